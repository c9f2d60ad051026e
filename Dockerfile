# The epaper-archive image for the compose file's `deploy` and `worker` services: the project
# and its pinned dependencies. Workers run flows from /app (the deployments' pull step).
FROM python:3.11.7-slim-bookworm
WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN pip install --no-cache-dir -r requirements.lock
COPY . .
RUN pip install --no-cache-dir --no-deps -e .
ENV EPAPER_HOME=/data PREFECT_SERVER_ANALYTICS_ENABLED=false DO_NOT_TRACK=1
