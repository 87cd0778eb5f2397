# lightfoot image (daemon and watcher), Node 24 LTS.
#   docker build -t REGISTRY/lightfoot:0.1.0 .
# The build stage runs the project's own setup and build (Debian packages,
# npm, crates.io: clang-19 for BPF and the C decoders, cargo for the napi-rs
# addon); the runtime stage holds only what `lightfoot run` and
# `lightfoot watcher` load. The test cluster assembles the same file set
# without a container engine: test/k8s/images.sh.

FROM node:24-bookworm AS build
WORKDIR /src
COPY . .
RUN bash scripts/setup.sh && npm run build \
 && npm prune --omit=dev \
 && find dist -name '*.map' -delete && rm -rf dist/test dist/bench

FROM node:24-bookworm-slim
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/native/*.node ./native/
# The daemon needs root in its container for its named capabilities (the chart
# adds BPF, PERFMON, SYS_PTRACE and drops the rest); the watcher runs as 65532.
ENTRYPOINT ["node", "/app/dist/runtime/cli/main.js"]
CMD ["--help"]
