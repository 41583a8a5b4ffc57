//! One connection to the broker: rumqttc's event loop driven by a thread of its own, so that
//! keep-alive pings go on while the receiver blocks storing a block, and so that no wait on the
//! event loop is ever cut short.

use freshet::SourceError;
use rumqttc::{Client, ConnectionError, Event, MqttOptions, NetworkOptions, Publish};
use rumqttc::{Outgoing, SubscribeFilter};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Requests the client may queue besides acknowledgements (the subscription, the
/// disconnection).
const EXTRA_REQUESTS: usize = 16;

/// What waiting on the connection gave.
pub(super) enum Received {
    /// A packet received or sent.
    Event(Event),
    /// Nothing within the wait.
    Nothing,
    /// The connection failed; it is closed.
    Failed(ConnectionError),
    /// The connection is closed.
    Closed,
}

/// A client and the events of its connection. Dropping it disconnects.
pub(super) struct Link {
    client: Client,
    events: mpsc::Receiver<Result<Event, ConnectionError>>,
}

impl Link {
    /// Starts connecting with `options` (the first event is the CONNACK, or the failure).
    /// `window` is how many acknowledgements may be queued at once.
    pub(super) fn open(
        options: MqttOptions,
        connect_timeout_secs: u64,
        window: usize,
    ) -> Result<Link, SourceError> {
        let (client, mut connection) = Client::new(options, window + EXTRA_REQUESTS);
        let mut network = NetworkOptions::new();
        network.set_connection_timeout(connect_timeout_secs);
        connection.eventloop.set_network_options(network);
        let (tx, events) = mpsc::channel();
        std::thread::Builder::new()
            .name("mqtt-connection".into())
            .spawn(move || {
                // Ends after a failure (no reconnection: the receiver opens a new link) or a
                // clean disconnection. Once the link is gone it still sends the queued
                // acknowledgements and the DISCONNECT that dropping the link queues, and gives
                // up at the next keep-alive ping.
                let mut orphaned = false;
                for event in connection.iter() {
                    let last = match &event {
                        Err(_) => true,
                        Ok(e) => {
                            matches!(e, Event::Outgoing(Outgoing::Disconnect))
                                || (orphaned && matches!(e, Event::Outgoing(Outgoing::PingReq)))
                        }
                    };
                    if last {
                        let _ = tx.send(event);
                        break;
                    }
                    orphaned = orphaned || tx.send(event).is_err();
                }
            })
            .map_err(|e| SourceError::io("mqtt: starting the connection thread", e))?;
        Ok(Link { client, events })
    }

    /// Waits up to `wait` for the next event.
    pub(super) fn recv(&self, wait: Duration) -> Received {
        match self.events.recv_timeout(wait) {
            Ok(Ok(event)) => Received::Event(event),
            Ok(Err(e)) => Received::Failed(e),
            Err(mpsc::RecvTimeoutError::Timeout) => Received::Nothing,
            Err(mpsc::RecvTimeoutError::Disconnected) => Received::Closed,
        }
    }

    /// Queues the subscription; false if the connection is closed.
    pub(super) fn subscribe(&self, filters: impl Iterator<Item = SubscribeFilter>) -> bool {
        self.client.subscribe_many(filters).is_ok()
    }

    /// Queues the acknowledgement of `publish`; false if the connection is closed.
    pub(super) fn ack(&self, publish: &Publish) -> bool {
        self.client.ack(publish).is_ok()
    }

    /// Disconnects cleanly: waits up to `timeout` until the queued acknowledgements and the
    /// DISCONNECT are sent. The messages that arrive meanwhile are not acknowledged: the broker
    /// keeps them for the session.
    pub(super) fn disconnect(&self, timeout: Duration) {
        if self.client.try_disconnect().is_err() {
            return;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return;
            }
            match self.recv(wait) {
                Received::Event(Event::Outgoing(Outgoing::Disconnect))
                | Received::Failed(_)
                | Received::Closed => return,
                Received::Event(_) | Received::Nothing => {}
            }
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Ends the connection thread at its next event, if it is still running.
        let _ = self.client.try_disconnect();
    }
}
