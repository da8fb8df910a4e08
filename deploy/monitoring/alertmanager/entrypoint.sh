#!/bin/sh
# Entrypoint of the alertmanager service in docker-compose.yml (profile monitoring). render-config.sh writes the
# receivers' secrets from the environment (.env: ALERTMANAGER_*) into the tmpfs at /etc/alertmanager/secrets and the
# configuration naming only the receivers given into the tmpfs at /etc/alertmanager/rendered; then Alertmanager starts
# on it. A placeholder left in .env stops the container here with exit code 78 and the variable's name.
set -eu

/bin/sh /hermes/render-config.sh /etc/alertmanager/rendered/alertmanager.yml

# One instance: no high-availability gossip (an empty --cluster.listen-address turns it off).
exec /bin/alertmanager --config.file=/etc/alertmanager/rendered/alertmanager.yml --storage.path=/alertmanager --cluster.listen-address= "$@"
