# The application image: ingester, maintenance, worker, API and simulators are `facility <command>` in this image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# headless Chromium and a CJK font: the API prints the ratings' PDF reports (evaluation/reports/pdf.py) with
# Chinese text; nothing else from apt (no recommends, no lists kept)
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-wqy-zenhei \
    && rm -rf /var/lib/apt/lists/*

# dependencies first (cached while only the code changes)
COPY pyproject.toml README.md ./
RUN mkdir -p facility simulators ingest predict maintenance evaluation api dashboards runtime \
    && for p in facility simulators ingest predict maintenance evaluation api dashboards runtime; do touch $p/__init__.py; done \
    && pip install . \
    && pip uninstall -y facility-monitor

COPY facility ./facility
COPY simulators ./simulators
COPY ingest ./ingest
COPY predict ./predict
COPY maintenance ./maintenance
COPY evaluation ./evaluation
COPY api ./api
COPY dashboards ./dashboards
COPY runtime ./runtime
# editable: the code runs from /app, so data next to it (api/static, fleets, migrations, schemes) is found
RUN pip install --no-deps -e . \
    && useradd --system --uid 10001 --home-dir /app facility \
    && mkdir -p /app/var && chown facility /app/var

USER facility
# services are reached by name on the compose network; the app never starts its own brokers there
ENV FACILITY_MANAGE_SERVICES=false \
    FACILITY_API_HOST=0.0.0.0 \
    FACILITY_VAR_DIR=/app/var

EXPOSE 8000 9108 9110
ENTRYPOINT ["facility"]
CMD ["api"]
