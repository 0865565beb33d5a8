# lmsa HTTP API. Build: docker build -t lmsa .   Run: see docker-compose.yml (LM Studio stays on
# the host; containers reach it at host.docker.internal).
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY lmsa ./lmsa
RUN python -m pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    LANGSMITH_TRACING=false \
    LMSA_SERVER_HOST=0.0.0.0 \
    LMSA_SERVER_PORT=8000 \
    LMSA_BASE_URL=http://host.docker.internal:1234/v1 \
    LMSA_DATA_DIR=/data \
    LMSA_WORKSPACE=/workspace
COPY --from=build /wheels /wheels
RUN python -m pip install /wheels/*.whl && rm -rf /wheels \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin lmsa \
    && mkdir -p /data /workspace && chown lmsa:lmsa /data /workspace
USER lmsa
WORKDIR /home/lmsa
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('LMSA_SERVER_PORT', '8000')}/health\", timeout=2)"]
STOPSIGNAL SIGTERM
CMD ["lmsa", "serve"]
