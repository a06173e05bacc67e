# Container image for the care services assistant.
#
# NOTE: this file could not be built where it was written (no container runtime or
# registry access there); build and test it on your own build host before relying on it:
#   docker build -t care-assistant .
#   docker run -p 8000:8000 -v care-data:/data \
#     -e CARE_STAFF_USER=anna -e CARE_STAFF_PASSWORD='a long passphrase' care-assistant
#
# /data (a volume) holds everything that changes: the knowledge base staff edit
# (documents, manifest, translations), the index and the SQLite file with redacted
# questions and feedback. Back it up (see README, "Backups").

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    ANONYMIZED_TELEMETRY=False \
    CARE_HOST=0.0.0.0 \
    CARE_PORT=8000 \
    CARE_DATA_DIR=/data/state \
    CARE_KNOWLEDGE_DIR=/data/knowledge

WORKDIR /app

# The CPU build of torch first, so the project's dependency never pulls a CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# The code, the fixed texts and the seed knowledge base (copied to /data on first start).
COPY pyproject.toml README.md ./
COPY assistant ./assistant
COPY ui ./ui
COPY prompts ./prompts
COPY evals ./evals
COPY knowledge ./knowledge
# Editable install: the code finds prompts/ and ui/web/ next to itself in /app.
RUN pip install -e . \
    && useradd --create-home --uid 10001 care \
    && mkdir -p /data /chroma && chown care:care /data /chroma

COPY deploy/entrypoint.sh /usr/local/bin/care-entrypoint
USER care
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
ENTRYPOINT ["care-entrypoint"]
CMD ["python", "-m", "assistant", "serve"]
