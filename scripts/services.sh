#!/usr/bin/env bash
# Starts, stops or reports the test services of PINK, on loopback only:
#   Redis      127.0.0.1:6390 (no persistence)
#   Hazelcast  127.0.0.1:5710 (cluster "pink-test", multicast/auto-detection off)
# Usage: scripts/services.sh start|stop|status [redis|hazelcast]
# Installs what is missing (Debian redis-server, a Java runtime and Maven via
# apt-get; the Hazelcast 5.7.0 jar via Maven), waits until each service answers,
# writes PIDs under .services/. Ports: PINK_REDIS_PORT, PINK_HAZELCAST_PORT.
# Idempotent: starting a running service or stopping a stopped one is a no-op.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DIR="$ROOT/.services"
mkdir -p "$DIR"
REDIS_PORT=${PINK_REDIS_PORT:-6390}
HZ_PORT=${PINK_HAZELCAST_PORT:-5710}
HZ_VERSION=5.7.0
HZ_JAR="${HOME}/.m2/repository/com/hazelcast/hazelcast/${HZ_VERSION}/hazelcast-${HZ_VERSION}.jar"

log() { echo "services: $*" >&2; }
die() { log "$*"; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

port_open() {  # port_open PORT -> 0 when something listens on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pid_alive() {  # pid_alive NAME
  local f="$DIR/$1.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

port_free_or_die() {  # port_free_or_die NAME PORT: a port held by something else is a clear error
  port_open "$2" || return 0
  die "$1: 127.0.0.1:$2 is already in use by a process this checkout did not start (another" \
    "checkout's services? run 'scripts/services.sh stop' there)"
}

# ------------------------------------------------------------------ redis
redis_bin() { command -v redis-server || { [ -x /usr/bin/redis-server ] && echo /usr/bin/redis-server; } || true; }

apt_install() {  # apt_install PACKAGE...
  log "installing $* (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -q --no-install-recommends "$@" >"$DIR/apt.log" 2>&1; then
    as_root apt-get update -q >>"$DIR/apt.log" 2>&1 || die "apt-get update failed (see $DIR/apt.log)"
    as_root apt-get install -y -q --no-install-recommends "$@" >>"$DIR/apt.log" 2>&1 \
      || die "apt-get install $* failed (see $DIR/apt.log)"
  fi
}

redis_install() {
  [ -n "$(redis_bin)" ] && return 0
  apt_install redis-server
  [ -n "$(redis_bin)" ] || die "redis-server still missing after install"
}

redis_ping() {
  local cli
  cli=$(command -v redis-cli || true)
  if [ -n "$cli" ]; then
    [ "$("$cli" -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
  else
    port_open "$REDIS_PORT"
  fi
}

redis_start() {
  if pid_alive redis && redis_ping; then log "redis already running (pid $(cat "$DIR/redis.pid"))"; return 0; fi
  port_free_or_die redis "$REDIS_PORT"
  redis_install
  "$(redis_bin)" --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --protected-mode yes --dir "$DIR" --daemonize no --loglevel warning \
    >"$DIR/redis.log" 2>&1 &
  echo $! >"$DIR/redis.pid"
  for _ in $(seq 1 100); do
    redis_ping && { log "redis up on 127.0.0.1:$REDIS_PORT (pid $(cat "$DIR/redis.pid"))"; return 0; }
    pid_alive redis || die "redis exited at start (see $DIR/redis.log)"
    sleep 0.1
  done
  die "redis did not answer within 10 s (see $DIR/redis.log)"
}

# -------------------------------------------------------------- hazelcast
hz_install() {
  command -v java >/dev/null || apt_install default-jre-headless
  command -v java >/dev/null || die "java is needed to run Hazelcast (apt-get install default-jre-headless)"
  [ -f "$HZ_JAR" ] && return 0
  command -v mvn >/dev/null || apt_install maven
  command -v mvn >/dev/null || die "maven (mvn) is needed to fetch the Hazelcast jar (apt-get install maven)"
  log "fetching com.hazelcast:hazelcast:$HZ_VERSION (maven)"
  mvn -q dependency:get -Dtransitive=false -Dartifact="com.hazelcast:hazelcast:$HZ_VERSION" >"$DIR/mvn.log" 2>&1 \
    || die "mvn dependency:get failed (see $DIR/mvn.log)"
  [ -f "$HZ_JAR" ] || die "Hazelcast jar not found at $HZ_JAR after mvn"
}

hz_config() {
  cat >"$DIR/hazelcast.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<hazelcast xmlns="http://www.hazelcast.com/schema/config"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
           xsi:schemaLocation="http://www.hazelcast.com/schema/config
           http://www.hazelcast.com/schema/config/hazelcast-config-5.7.xsd">
  <cluster-name>pink-test</cluster-name>
  <properties>
    <property name="hazelcast.phone.home.enabled">false</property>
    <property name="hazelcast.socket.bind.any">false</property>
  </properties>
  <network>
    <port auto-increment="false">${HZ_PORT}</port>
    <interfaces enabled="true"><interface>127.0.0.1</interface></interfaces>
    <join>
      <auto-detection enabled="false"/>
      <multicast enabled="false"/>
      <tcp-ip enabled="false"/>
    </join>
  </network>
  <jet enabled="false"/>
</hazelcast>
XML
}

hz_start() {
  if pid_alive hazelcast && port_open "$HZ_PORT"; then
    log "hazelcast already running (pid $(cat "$DIR/hazelcast.pid"))"; return 0
  fi
  port_free_or_die hazelcast "$HZ_PORT"
  hz_install
  hz_config
  java -Xms64m -Xmx256m -Dhazelcast.config="$DIR/hazelcast.xml" \
    -Dhazelcast.logging.type=jdk -Djava.net.preferIPv4Stack=true \
    -cp "$HZ_JAR" com.hazelcast.core.server.HazelcastMemberStarter \
    >"$DIR/hazelcast.log" 2>&1 &
  echo $! >"$DIR/hazelcast.pid"
  for _ in $(seq 1 600); do
    if port_open "$HZ_PORT" && grep -q "is STARTED" "$DIR/hazelcast.log" 2>/dev/null; then
      log "hazelcast up on 127.0.0.1:$HZ_PORT (pid $(cat "$DIR/hazelcast.pid"))"; return 0
    fi
    pid_alive hazelcast || die "hazelcast exited at start (see $DIR/hazelcast.log)"
    sleep 0.1
  done
  die "hazelcast did not answer within 60 s (see $DIR/hazelcast.log)"
}

# ------------------------------------------------------------------ common
stop_one() {  # stop_one NAME
  local f="$DIR/$1.pid" pid
  if ! pid_alive "$1"; then rm -f "$f"; log "$1 not running"; return 0; fi
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$f"; log "$1 stopped"; return 0; }
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$f"
  log "$1 killed"
}

status_one() {  # status_one NAME PORT
  if pid_alive "$1" && port_open "$2"; then
    echo "$1: running (pid $(cat "$DIR/$1.pid"), 127.0.0.1:$2)"; return 0
  fi
  echo "$1: stopped"; return 1
}

cmd=${1:-}
which=${2:-all}
case "$which" in redis|hazelcast|all) ;; *) die "unknown service '$which' (redis|hazelcast)";; esac
want() { [ "$which" = all ] || [ "$which" = "$1" ]; }
case "$cmd" in
  start)
    if want redis; then redis_start; fi
    if want hazelcast; then hz_start; fi
    ;;
  stop)
    if want redis; then stop_one redis; fi
    if want hazelcast; then stop_one hazelcast; fi
    ;;
  status)
    rc=0
    if want redis; then status_one redis "$REDIS_PORT" || rc=1; fi
    if want hazelcast; then status_one hazelcast "$HZ_PORT" || rc=1; fi
    exit $rc
    ;;
  *) die "usage: $0 start|stop|status [redis|hazelcast]";;
esac
