# One image for both processes; docker-compose.yml runs it twice (gateway and worker).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    ISC_WEB_DIR=/app/web

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY api ./api
COPY worker ./worker
COPY web ./web
RUN pip install .

EXPOSE 8000 8001
CMD ["python", "-m", "api"]
