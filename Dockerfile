# wabench container image: a static-ish release build on Debian, run as an unprivileged user.
#   docker build -t wabench:0.1.0 .
#   docker run --rm -v "$PWD/results:/work/results" wabench:0.1.0 run profiles/quickstart.toml
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src ./src
COPY benches ./benches
COPY examples ./examples
COPY assets ./assets
RUN cargo build --release --locked --bin wabench

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 wabench
COPY --from=build /src/target/release/wabench /usr/local/bin/wabench
COPY profiles /work/profiles
WORKDIR /work
USER 10001
ENTRYPOINT ["wabench"]
CMD ["--help"]
