#!/usr/bin/env bash
# make backup: a dump of the database into backups/ (PostgreSQL: pg_dump -Fc; SQLite: .backup),
# plus a copy of the audit anchor. Secrets are NOT copied: keep them apart (README, "Backup").
set -euo pipefail
out_dir="${BACKUP_DIR:-backups}"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
instance="${INTAKE_INSTANCE_PATH:-instance}"
mkdir -p "$out_dir"
chmod 700 "$out_dir"
# The anchor first: a copy taken after the dump could name events the dump does not hold,
# and the restored chain would then read as truncated against its own backup.
anchor="${AUDIT_ANCHOR_PATH:-$instance/audit_anchor.json}"
if [[ -f "$anchor" ]]; then
    cp -p "$anchor" "$out_dir/audit_anchor-$stamp.json"
fi
url="${DATABASE_URL:-}"
if [[ "$url" == postgres://* || "$url" == postgresql* ]]; then
    # libpq does not know SQLAlchemy's driver suffix.
    libpq_url="${url/postgresql+psycopg:\/\//postgresql://}"
    file="$out_dir/refuge-$stamp.pgdump"
    pg_dump -Fc --no-owner --file "$file" "$libpq_url"
else
    db="$instance/refuge.sqlite"
    file="$out_dir/refuge-$stamp.sqlite"
    # .backup copies a consistent snapshot even while the app writes.
    sqlite3 "$db" ".backup '$file'"
fi
chmod 600 "$file"
echo "backup written: $file"
echo "keep with it, stored apart: SECRET_KEY, AUDIT_KEY (instance/secret_key if generated), the recovery kit"
