# Sourced by the Makefile before anything talks to the database.
# With DATABASE_URL set, it is used as given. Without it, PostgreSQL is expected on 127.0.0.1:5432;
# when nothing answers there, a throwaway cluster is started with initdb/pg_ctl (stopped when the
# calling shell exits), or we stop with a message saying what to install.

# CDPADMIN_PG_PORT lets the fallback be exercised beside a running server (the default is the standard port).
_PG_PORT="${CDPADMIN_PG_PORT:-5432}"

_pg_answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

_pg_tool() {
  local name=$1 found
  found=$(command -v "$name" 2>/dev/null) && { echo "$found"; return 0; }
  found=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1)
  [ -n "$found" ] && echo "$found"
}

_pg_throwaway() {
  local initdb pg_ctl dir runas=()
  initdb=$(_pg_tool initdb); pg_ctl=$(_pg_tool pg_ctl)
  if [ -z "$initdb" ] || [ -z "$pg_ctl" ]; then
    echo "PostgreSQL does not answer on 127.0.0.1:$_PG_PORT and initdb/pg_ctl are not installed." >&2
    echo "Install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL to a reachable server." >&2
    return 1
  fi
  dir="${TMPDIR:-/tmp}/cdpadmin-pg-$(id -u)-$_PG_PORT"
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root: run the throwaway cluster as the postgres (or nobody) user.
    local user=postgres; id -u postgres >/dev/null 2>&1 || user=nobody
    runas=(runuser -u "$user" --)
    mkdir -p "$dir" && chown "$user" "$dir"
  fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    "${runas[@]}" "$initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null || return 1
  fi
  echo "Starting a throwaway PostgreSQL in $dir on 127.0.0.1:$_PG_PORT"
  "${runas[@]}" "$pg_ctl" -D "$dir" -o "-h 127.0.0.1 -p $_PG_PORT -k $dir" -l "$dir/server.log" -w start >/dev/null || return 1
  [ "$_PG_PORT" = 5432 ] || export DATABASE_URL="postgres://postgres@127.0.0.1:$_PG_PORT/cdpadmin"
  _CDPADMIN_PG_STOP="${runas[*]} $pg_ctl -D $dir -m fast stop"
  trap 'eval "$_CDPADMIN_PG_STOP" >/dev/null 2>&1' EXIT
}

if [ -z "${DATABASE_URL:-}" ] && ! _pg_answers 127.0.0.1 "$_PG_PORT"; then
  _pg_throwaway || return 1 2>/dev/null || exit 1
fi
