#!/bin/sh
# The broker's accounts, in the dynamic-security plugin's file (run by the mosquitto-init service before
# mosquitto starts, on every `docker compose up`): the admin account, the service roles of roles.json
# (generated from facility/services/dynsec.py: `python -m facility.services.dynsec > deploy/mosquitto/roles.json`)
# and the service accounts ingest, app and simulator with the passwords in .env (a changed password is set on
# the existing account, so its persistent session and backlog stay). Device accounts are added on the running
# broker with `facility devices add|sync` and are kept across restarts.
set -eu
umask 077
dir=${DYNSEC_DIR:-/mosquitto/auth}
json="$dir/dynamic-security.json"
roles=${ROLES_FILE:-/roles.json}
plugin=${DYNSEC_PLUGIN:-/usr/lib/mosquitto_dynamic_security.so}
port=${INIT_PORT:-18839}
: "${MQTT_ADMIN_PASSWORD:?MQTT_ADMIN_PASSWORD is not set: copy .env.example to .env and fill it in}"
accounts="ingest app simulator"
for account in ingest app simulator; do
  var="MQTT_$(echo "$account" | tr a-z A-Z)_PASSWORD"
  eval "password=\${$var:?$var is not set: copy .env.example to .env and fill it in}"
  case "$password" in *\"*|*\\*) echo "mosquitto-init: $var must not contain \" or \\" >&2; exit 2;; esac
done

mkdir -p "$dir"
[ -f "$json" ] || mosquitto_ctrl dynsec init "$json" admin "$MQTT_ADMIN_PASSWORD" >/dev/null

# a private broker on localhost applies the roles and service accounts through the plugin's own API
conf="$(mktemp)"
printf 'user root\nlistener %s 127.0.0.1\nallow_anonymous false\nplugin %s\nplugin_opt_config_file %s\n' \
  "$port" "$plugin" "$json" > "$conf"
mosquitto -c "$conf" >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$conf"' EXIT
rr() {
  mosquitto_rr -h 127.0.0.1 -p "$port" -u admin -P "$MQTT_ADMIN_PASSWORD" -W 10 \
    -t '$CONTROL/dynamic-security/v1' -e '$CONTROL/dynamic-security/v1/response' "$@"
}
i=0
until rr -m '{"commands":[{"command":"getDefaultACLAccess"}]}' >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -lt 100 ] || { echo "mosquitto-init: the init broker did not answer (wrong MQTT_ADMIN_PASSWORD?)" >&2; exit 1; }
  sleep 0.1
done
# (-m, not -f/-s: mosquitto_rr 2.0 sends a file or stdin so that the plugin cannot parse it)
rr -m "$(cat "$roles")" >/dev/null
cmds=""
for account in ingest app simulator; do
  var="MQTT_$(echo "$account" | tr a-z A-Z)_PASSWORD"
  eval "password=\${$var}"
  cmds="$cmds{\"command\":\"createClient\",\"username\":\"$account\"},"
  cmds="$cmds{\"command\":\"setClientPassword\",\"username\":\"$account\",\"password\":\"$password\"},"
  cmds="$cmds{\"command\":\"addClientRole\",\"username\":\"$account\",\"rolename\":\"facility-$account\"},"
done
# the admin also gets facility-admin: the retain guard (`facility devices guard`) deletes retained telemetry
cmds="$cmds{\"command\":\"addClientRole\",\"username\":\"admin\",\"rolename\":\"facility-admin\"},"
rr -m "{\"commands\":[$cmds{\"command\":\"listClients\"}]}" >/dev/null
kill "$pid"
wait "$pid" 2>/dev/null || true
chown -R 1883:1883 "$dir"
chmod 0700 "$dir"
echo "mosquitto-init: admin and service accounts ($accounts) ready in $json"
