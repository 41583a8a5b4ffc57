//! ZeroMQ SUB and PULL sockets as receivers.
