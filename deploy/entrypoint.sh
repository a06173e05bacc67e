#!/bin/sh
# Container start: seed the knowledge base on an empty volume, bring the index up to date, then serve.
set -eu
if [ ! -f "$CARE_KNOWLEDGE_DIR/manifest.yaml" ]; then
    mkdir -p "$CARE_KNOWLEDGE_DIR"
    cp -R /app/knowledge/. "$CARE_KNOWLEDGE_DIR/"
    echo "seeded $CARE_KNOWLEDGE_DIR from the image"
fi
# Incremental: unchanged documents are not embedded again; removals marked by staff become final.
python -m assistant index
exec "$@"
