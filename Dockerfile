# Vigil worker image. Build: docker build -t vigil .
FROM node:20-bookworm-slim AS build
WORKDIR /app
# clang + lld build PDQ's WebAssembly engine (native/); without them the slower TypeScript PDQ is used.
RUN apt-get update && apt-get install -y --no-install-recommends clang lld && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY workers ./workers
COPY native ./native
RUN npm ci && npm prune --omit=dev
# Native TensorFlow for the classifiers (an optional peer: its install downloads libtensorflow, so it is
# not in the lock file). Where the download is impossible the image still builds and the classifiers
# run on the wasm backend, which ships inside the npm package; the start-up log says which one runs.
RUN npm install --no-save --no-audit --no-fund --omit=dev @tensorflow/tfjs-node@4.22.0 \
 || echo "tfjs-node not installed: classifiers will use the wasm backend"

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
COPY models ./models
USER node
ENTRYPOINT ["node", "bin/vigil.js"]
CMD ["worker"]
