#!/bin/sh
# Make the PostgreSQL and Redis passwords compose reads (./postgres_password, ./redis_password)
# if they are missing, and print the URLs to put in deploy/.env. Never overwrites a password.
set -eu
cd "$(dirname "$0")"
umask 077
for name in postgres_password redis_password; do
  [ -s "$name" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > "$name"
done
pg=$(cat postgres_password)
rd=$(cat redis_password)
echo "DATABASE_URL=postgresql://jec:$pg@postgres:5432/jec"
echo "RASA_TRACKER_URL=postgresql://jec:$pg@postgres:5432/jec_rasa"
echo "REDIS_URL=redis://:$rd@redis:6379/0"
