#!/usr/bin/env bash
# The Elasticsearch live suite in one command (see deploy/README.md, "The live suite"):
#   start single-node Elasticsearch and Kibana with security on (deploy/docker-compose.yml),
#   create an API key for VOC, export VOC_ES_URL and the credentials, run the contract suites
#   (index, alert store, reindex SQLite → Elasticsearch → SQLite) and the demo against the cluster,
#   then tear everything down (volumes included). KEEP=1 leaves the cluster running.
#
#   deploy/live-suite.sh                # needs docker with compose v2, curl, and the project's .venv
#
# Passwords: deploy/.env if it exists, else random ones generated for this run only.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
VOC="${VOC:-$ROOT/.venv/bin/voc}"
WORK="$(mktemp -d)"
ENV_FILE="$ROOT/deploy/.env"

if [ ! -f "$ENV_FILE" ]; then
  ENV_FILE="$WORK/.env"
  rnd() { "$PY" -c 'import secrets; print(secrets.token_urlsafe(24))'; }
  sed -e "s/^ELASTIC_PASSWORD=.*/ELASTIC_PASSWORD=$(rnd)/" \
      -e "s/^KIBANA_PASSWORD=.*/KIBANA_PASSWORD=$(rnd)/" \
      -e "s/^KIBANA_ENCRYPTION_KEY=.*/KIBANA_ENCRYPTION_KEY=$(rnd)$(rnd)/" \
      "$ROOT/deploy/.env.example" > "$ENV_FILE"
fi
set -a
# shellcheck source=/dev/null
. "$ENV_FILE"
set +a
ES_HOSTPORT="${ES_PORT:-127.0.0.1:9200}"
case "$ES_HOSTPORT" in *:*) ;; *) ES_HOSTPORT="127.0.0.1:$ES_HOSTPORT" ;; esac
KIBANA_HOSTPORT="${KIBANA_PORT:-127.0.0.1:5601}"
case "$KIBANA_HOSTPORT" in *:*) ;; *) KIBANA_HOSTPORT="127.0.0.1:$KIBANA_HOSTPORT" ;; esac
COMPOSE=(docker compose -p voc-live -f "$ROOT/deploy/docker-compose.yml" --env-file "$ENV_FILE")

teardown() {
  status=$?
  if [ "${KEEP:-0}" = "1" ]; then
    echo "KEEP=1: cluster left running at https://$ES_HOSTPORT (stop: ${COMPOSE[*]} down -v)"
  else
    "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
  exit $status
}
trap teardown EXIT

# Elasticsearch in Docker on Linux wants vm.max_map_count >= 262144 (Elastic's install notes)
if [ -r /proc/sys/vm/max_map_count ] && [ "$(cat /proc/sys/vm/max_map_count)" -lt 262144 ]; then
  echo "warning: vm.max_map_count is $(cat /proc/sys/vm/max_map_count); Elastic asks for 262144" \
       "(sudo sysctl -w vm.max_map_count=262144)" >&2
fi

# wait_for WHAT SECONDS COMMAND…: retry COMMAND every 5 s until it succeeds or SECONDS pass
wait_for() {
  what=$1 limit=$2; shift 2
  for _ in $(seq 0 5 "$limit"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 5
  done
  echo "$what did not come up within ${limit}s; last logs:" >&2
  "${COMPOSE[@]}" logs --tail 40 >&2 || true
  return 1
}

# curl reads the elastic user's password from a file, so it shows in no process list
( umask 077; printf 'user = "elastic:%s"\n' "$ELASTIC_PASSWORD" > "$WORK/curl-elastic" )

echo "== starting Elasticsearch and Kibana (security on, TLS)"
# not `up --wait`: the one-shot `certs` service exits when done, which some Compose versions count as failure
"${COMPOSE[@]}" up -d
wait_for "the CA certificate" 300 \
  "${COMPOSE[@]}" cp es01:/usr/share/elasticsearch/config/certs/ca/ca.crt "$WORK/ca.crt"
wait_for "Elasticsearch" 600 curl -sS --fail --cacert "$WORK/ca.crt" -K "$WORK/curl-elastic" \
  "https://$ES_HOSTPORT/_cluster/health?wait_for_status=yellow&timeout=5s"
# /api/status needs a login when security is on; overall.level turns "available" once Kibana is ready
wait_for "Kibana" 600 sh -c "curl -sS --fail -K '$WORK/curl-elastic' http://$KIBANA_HOSTPORT/api/status \
  | grep -Eq '\"level\": ?\"available\"'"

echo "== creating VOC's API key"
# the privileges deploy/README.md documents (section 2), for the live suite's voc-test-* and the demo's voc-live-*
curl -sS --fail --cacert "$WORK/ca.crt" -K "$WORK/curl-elastic" -H "Content-Type: application/json" \
  -X POST "https://$ES_HOSTPORT/_security/api_key" -d '{
    "name": "voc-live-suite",
    "expiration": "1d",
    "role_descriptors": {"voc": {
      "cluster": ["manage_index_templates", "monitor"],
      "indices": [{"names": ["voc-test-*", "voc-live-*"],
                   "privileges": ["create_index", "manage", "read", "write", "view_index_metadata"]}]}}
  }' > "$WORK/api_key.json"
VOC_ES_API_KEY="$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["encoded"])' "$WORK/api_key.json")"
export VOC_ES_URL="https://$ES_HOSTPORT" VOC_ES_API_KEY VOC_ES_CA_CERTS="$WORK/ca.crt"

echo "== contract suites against $VOC_ES_URL"
# -m elasticsearch: only the cluster cases; a skip here means the cluster was not used, which is a failure
"$PY" -m pytest -q -m elasticsearch -rs tests/index tests/alerts | tee "$WORK/pytest.log"
if grep -q "SKIPPED" "$WORK/pytest.log"; then
  echo "some Elasticsearch cases were skipped although VOC_ES_URL is set" >&2
  exit 1
fi

echo "== the demo against the cluster"
# a copy of the configuration whose index points at the cluster and trusts its CA
cp -r "$ROOT/configs" "$WORK/configs"
"$PY" - "$WORK/configs/voc.yaml" "$WORK/ca.crt" <<'PYEOF'
import sys, yaml
path, ca = sys.argv[1], sys.argv[2]
voc = yaml.safe_load(open(path, encoding="utf-8"))
es = voc.setdefault("index", {}).setdefault("elasticsearch", {})
voc["index"]["name"] = "voc-live-demo"
es["ca_certs"] = ca
es["number_of_replicas"] = 0
open(path, "w", encoding="utf-8").write(yaml.safe_dump(voc, allow_unicode=True, sort_keys=False))
PYEOF
# a scratch home for the demo's files (crawl state, alert log); the model stays where it is
export VOC_HOME="$WORK/home" VOC_INDEX_URL="$VOC_ES_URL" VOC_CLASSIFIER_MODEL="$ROOT/classifier/models/voc-small"
mkdir -p "$VOC_HOME"
"$VOC" --config "$WORK/configs" check-config
"$VOC" --config "$WORK/configs" demo --no-serve
"$VOC" --config "$WORK/configs" search "登录 sentiment:negative" --limit 3
"$VOC" --config "$WORK/configs" alerts list

echo "== live suite passed"
