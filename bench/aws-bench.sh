#!/usr/bin/env bash
# AWS scan benchmark on moto_server: every AWS check but the Cost Explorer ones (moto
# lacks anomalies and forecasts) in one `clankerd check`, against the minimal scan of
# the same objects (one paginated describe per type plus the bucket list, straight
# from the SDK), paired run by run with farm-bench; and the number of API calls.
#
#   bench/aws-bench.sh [GROUPS BUCKETS INSTANCES]   (default 1000 500 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
groups=${1:-1000} buckets=${2:-500} instances=${3:-2000}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
  AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
for _ in $(seq 50); do curl -s "$AWS_ENDPOINT_URL/moto-api/" >/dev/null && break; sleep 0.2; done
go build -o "$work/clankerd" ./cmd/clankerd
go build -o "$work/awsplant" ./internal/testenv/awstest/awsplant
echo "== loading $groups security groups, $buckets buckets, $instances instances"
start=$(date +%s)
"$work/awsplant" load "$AWS_ENDPOINT_URL" "$groups" "$buckets" "$instances"
echo "loaded in $(( $(date +%s) - start ))s"

{
  echo "## Hourly"
  for id in ec2.sg.open s3.public iam.keys.old iam.users.nomfa ec2.volumes.unattached ec2.eip.unassociated \
            ec2.instances.stopped rds.public elb.public tags.missing; do
    echo "- \`aws.$id\` timeout=10m"
  done
} > "$work/hb.md"

echo "== API calls of one clankerd check"
"$work/clankerd" --state-dir "$work/state-count" --log-level debug check "$work/hb.md" >/dev/null 2>"$work/count.log" || true
grep -o 'msg="AWS API requests" requests=[0-9]*' "$work/count.log" || echo "(no call count logged)"
echo "(of which per-bucket reads: up to $((buckets * 4)) = ACL, policy, public access block and, when ListBuckets does not say, location, for $buckets buckets; S3 has no describe-all)"

echo "== clankerd check (A) vs minimal describes (B)"
farm-bench -n 3 --timeout 1200 \
  --vs "$work/awsplant describe $AWS_ENDPOINT_URL" \
  -- "$work/clankerd" --state-dir "$work/state" --log-level error check "$work/hb.md" -o json
