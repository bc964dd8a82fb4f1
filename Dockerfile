# A worker image for smoke flows: the locked project at /app, Debian's Chromium and
# ffmpeg (the retry video), and a process worker on the `smoke` work pool.
#
#   docker build -t smoke-worker .
#   docker run --rm -e PREFECT_API_URL=http://prefect.internal:4200/api smoke-worker
#
# Deploy once with the image's path so its pull step finds the project:
#   smoke deploy --workdir /app
#
# The `sandbox` group is included so the `sandbox` environment (a local sandbox started
# for the run) works in the image too; localstripe in it is GPL-3.0 and runs as a process
# of its own. Untested: the machines this project is built and tested on have no Docker
# daemon, so neither CI nor anyone here has built this image (README "Run it at scale").
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium ffmpeg \
 && rm -rf /var/lib/apt/lists/*

ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy PATH=/app/.venv/bin:$PATH
WORKDIR /app
RUN pip install --no-cache-dir "uv==0.13.9"

# Dependencies first: a code change rebuilds only the last layers.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --group sandbox --no-install-project
COPY . .
RUN uv sync --locked --no-dev --group sandbox \
 && python -m smoke.browser --install

# Ask for work every second: a triggered gate starts at once.
ENV PREFECT_WORKER_QUERY_SECONDS=1
CMD ["prefect", "worker", "start", "--pool", "smoke"]
