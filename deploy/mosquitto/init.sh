#!/bin/sh
# Writes the mosquitto password file from the service-account secrets (run by the mosquitto-init service).
# Device accounts added later with `facility devices add` go into the same file.
set -eu
umask 077
out=/mosquitto/auth/passwd
touch "$out"
for account in ingest app simulator; do
  var="MQTT_$(echo "$account" | tr a-z A-Z)_PASSWORD"
  eval "password=\${$var:?$var is not set: copy .env.example to .env and fill it in}"
  mosquitto_passwd -b "$out" "$account" "$password"
done
chown 1883:1883 "$out"
chmod 0700 "$out"
echo "mosquitto-init: wrote $(wc -l < "$out") accounts to $out"
