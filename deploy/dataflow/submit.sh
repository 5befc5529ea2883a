#!/usr/bin/env bash
# Submit tailguard to Google Cloud Dataflow.
#
#   deploy/dataflow/submit.sh direct   INPUT_GLOB OUTPUT_DIR [extra Beam flags...]
#       `tailguard run --config configs/dataflow.yaml` from this machine: stages the sdist of
#       setup.py, submits, WAITS for the job and writes OUTPUT_DIR/manifest.json.
#   deploy/dataflow/submit.sh build
#       builds the Flex Template image with Cloud Build and writes the template spec to
#       gs://$BUCKET/templates/tailguard.json (metadata.json = its parameters).
#   deploy/dataflow/submit.sh template INPUT_GLOB OUTPUT_DIR [gcloud flags...]
#       launches a job from that template (no local Python needed; does not wait and does not
#       write manifest.json — see docs/deploy.md).
#
# Environment (required): PROJECT, REGION, BUCKET (an existing bucket in REGION, no gs://).
# Optional: IMAGE (default $REGION-docker.pkg.dev/$PROJECT/tailguard/tailguard:<version>),
#           MAX_WORKERS (default 50), MACHINE_TYPE (default n2-standard-4).
# Credentials: Application Default Credentials / the active gcloud account only. This script
# never reads, prints or passes keys; `set -x` is deliberately not used.
set -euo pipefail

cd "$(dirname "$0")/../.."
: "${PROJECT:?set PROJECT to your GCP project id}"
: "${REGION:?set REGION, e.g. us-central1}"
: "${BUCKET:?set BUCKET to an existing GCS bucket name (without gs://) in REGION}"
VERSION="$(python3 -c 'import re;print(re.search(r"VERSION = \"(.+?)\"", open("setup.py").read()).group(1))')"
IMAGE="${IMAGE:-$REGION-docker.pkg.dev/$PROJECT/tailguard/tailguard:$VERSION}"
MAX_WORKERS="${MAX_WORKERS:-50}"
MACHINE_TYPE="${MACHINE_TYPE:-n2-standard-4}"
TEMPLATE="gs://$BUCKET/templates/tailguard.json"

usage() { sed -n '2,20p' "$0"; exit 2; }
[ $# -ge 1 ] || usage
mode="$1"; shift

case "$mode" in
  direct)
    [ $# -ge 2 ] || usage
    input="$1"; output="$2"; shift 2
    exec tailguard run --config configs/dataflow.yaml --input "$input" --output "$output" \
      --project="$PROJECT" --region="$REGION" \
      --temp_location="gs://$BUCKET/tmp" --staging_location="gs://$BUCKET/staging" \
      --setup_file="$PWD/setup.py" \
      --max_num_workers="$MAX_WORKERS" --machine_type="$MACHINE_TYPE" "$@"
    ;;
  build)
    build_config="$(mktemp --suffix=.yaml)"
    trap 'rm -f "$build_config"' EXIT
    cat > "$build_config" <<YAML
steps:
  - name: gcr.io/cloud-builders/docker
    args: ["build", "-f", "deploy/dataflow/Dockerfile", "-t", "$IMAGE", "."]
images: ["$IMAGE"]
YAML
    gcloud builds submit --project="$PROJECT" --region="$REGION" --config="$build_config" .
    gcloud dataflow flex-template build "$TEMPLATE" --project="$PROJECT" \
      --image="$IMAGE" --sdk-language=PYTHON --metadata-file=deploy/dataflow/metadata.json
    echo "template: $TEMPLATE (image $IMAGE)"
    ;;
  template)
    [ $# -ge 2 ] || usage
    input="$1"; output="$2"; shift 2
    gcloud dataflow flex-template run "tailguard-$(date -u +%Y%m%d-%H%M%S)" \
      --project="$PROJECT" --region="$REGION" --template-file-gcs-location="$TEMPLATE" \
      --temp-location="gs://$BUCKET/tmp" --staging-location="gs://$BUCKET/staging" \
      --max-workers="$MAX_WORKERS" --worker-machine-type="$MACHINE_TYPE" \
      --parameters=input="$input",output="$output",sdk_container_image="$IMAGE" "$@"
    ;;
  *) usage ;;
esac
