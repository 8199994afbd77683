# One image for both processes; docker-compose.yml runs it twice (gateway and worker).

# The sources become one wheel here; the image below installs it once, with its dependencies at
# the versions tested (constraints.txt), and holds no second copy of the sources.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY api ./api
COPY worker ./worker
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    HOME=/home/isc \
    ISC_HOST=0.0.0.0 \
    ISC_WEB_DIR=/app/web \
    ISC_COLLECTIONS_DIR=/home/isc/data

COPY constraints.txt /tmp/constraints.txt
COPY --from=build /wheels /tmp/wheels
RUN pip install --constraint /tmp/constraints.txt /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels /tmp/constraints.txt

# A user without privileges runs both processes. Keras keeps downloaded weights in
# $HOME/.keras/models (docker-compose.yml mounts a volume there): created here, owned by that
# user, so a new volume starts with the same owner.
RUN useradd --create-home --home-dir /home/isc --uid 10001 --user-group isc \
    && mkdir -p /home/isc/.keras/models \
    && chown -R isc:isc /home/isc

WORKDIR /app
COPY web ./web

USER isc
EXPOSE 8000 8001

# Healthy only when comparisons can run: the gateway's readiness is 503 while its worker starts
# or restarts. The start period covers loading (or downloading) the models.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10m --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/ready' % os.environ.get('ISC_PORT', '8000'), timeout=4)"]

CMD ["isc-gateway"]
