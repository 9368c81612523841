# Sourced once by the influxdb:1.8 image's init-influxdb.sh, on the first start with an empty volume; $INFLUX_CMD
# runs InfluxQL as the admin. The app's user has ALL on the database but may not create retention policies, so
# the one the feature store writes to (predict/feature_store.py, FEATURES_RP) is made here.
$INFLUX_CMD "CREATE RETENTION POLICY \"features\" ON \"$INFLUXDB_DB\" DURATION 30d REPLICATION 1"
