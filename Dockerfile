# syntax=docker/dockerfile:1
#
# The `freshet` command in a small image (docs/operations.md, "Container image").
#
#   docker build -t freshet .
#   docker run --rm -p 4040:4040 -e FRESHET_UI_TOKEN="$(openssl rand -hex 32)" freshet
#
# The default command runs the demo with the web UI on 0.0.0.0:4040, which requires a token
# (FRESHET_UI_TOKEN or --ui-token). A job of your own: build its binary in the same way.

# The workspace's minimum Rust version (rust-version in Cargo.toml).
ARG RUST_VERSION=1.89

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
# The registry and the target directory are cache mounts: a rebuild after a source change
# compiles the workspace's crates, not the dependencies.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p freshet-cli \
    && cp target/release/freshet /usr/local/bin/freshet

FROM debian:bookworm-slim
# A user of its own, owning the checkpoint directory.
RUN groupadd --system --gid 10001 freshet \
    && useradd --system --uid 10001 --gid freshet --home-dir /var/lib/freshet \
        --no-create-home --shell /usr/sbin/nologin freshet \
    && install -d -o freshet -g freshet -m 0750 /var/lib/freshet
COPY --from=builder /usr/local/bin/freshet /usr/local/bin/freshet
USER 10001:10001
WORKDIR /var/lib/freshet
# Checkpoint directories of jobs that keep them (the demo keeps none).
VOLUME /var/lib/freshet
# 4040: the web UI. 2100 and 2101: the control and data ports of a job that runs as a cluster
# of several containers (deploy/kubernetes/freshet-statefulset.yaml).
EXPOSE 2100 2101 4040
# A graceful stop: the last batches complete and a last checkpoint is written. Give it time
# (`docker stop -t 120`); a second signal stops at once.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/freshet"]
CMD ["demo", "--ui-addr", "0.0.0.0:4040"]
