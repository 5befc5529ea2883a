#!/usr/bin/env bash
# A real Flink session cluster on this machine, for configs/flink-local.yaml and the Flink tests.
#
#   deploy/flink/local.sh fetch    download the jars once (cached under $TAILGUARD_CACHE)
#   deploy/flink/local.sh up       fetch, then start: JobManager + $TAILGUARD_FLINK_TASKMANAGERS
#                                  TaskManagers (separate JVMs), the Beam Flink job server and a
#                                  Beam Python worker pool (EXTERNAL environment)
#   deploy/flink/local.sh status   what runs, on which port; exit 0 only when everything is up
#   deploy/flink/local.sh down     stop everything `up` started (by the process ids it recorded)
#   deploy/flink/local.sh job-server-jar   print the launcher jar for --flink_job_server_jar
#                                  (embedded mini-cluster: --flink_master=[local]; no cluster needed)
#
# What comes from where (nothing but the package registries is reached):
#   Flink 1.19.0      PyPI apache-flink-libraries==1.19.0 (deps/lib/flink-dist-1.19.0.jar & co.)
#   Beam job server   Maven Central beam-runners-flink-1.19:2.62.0 + its dependencies
#                     (deploy/flink/job-server/pom.xml says why 2.62 and not 2.77)
#   worker pool       deploy/flink/worker_pool.py (Beam's worker_pool_main with two fixes, see its
#                     docstring) run by $TAILGUARD_PYTHON (default: the repository's .venv), so
#                     that the SDK harnesses it forks run the same Python, Beam and tailguard.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${TAILGUARD_CACHE:-$HOME/.cache/tailguard}"
RUN_DIR="${TAILGUARD_FLINK_RUN_DIR:-$CACHE/flink-run}"
PYTHON="${TAILGUARD_PYTHON:-$REPO/.venv/bin/python}"
JAVA="${JAVA:-java}"

FLINK_VERSION=1.19.0
BEAM_JOB_SERVER_VERSION=2.62.0 # keep equal to beam.version in deploy/flink/job-server/pom.xml
FLINK_HOME="$CACHE/flink-$FLINK_VERSION"
JOB_SERVER_LIB="$CACHE/beam-flink-job-server-$BEAM_JOB_SERVER_VERSION/lib"
JOB_SERVER_JAR="$CACHE/beam-flink-job-server-$BEAM_JOB_SERVER_VERSION/beam-flink-job-server.jar"

# Ports: the defaults are the ones configs/flink-local.yaml names.
REST_PORT="${TAILGUARD_FLINK_REST_PORT:-8081}"
JOB_PORT="${TAILGUARD_FLINK_JOB_PORT:-8099}"
ARTIFACT_PORT="${TAILGUARD_FLINK_ARTIFACT_PORT:-8098}"
EXPANSION_PORT="${TAILGUARD_FLINK_EXPANSION_PORT:-8097}"
POOL_PORT="${TAILGUARD_FLINK_POOL_PORT:-50000}"
JM_RPC_PORT="${TAILGUARD_FLINK_JM_RPC_PORT:-6123}"

TASKMANAGERS="${TAILGUARD_FLINK_TASKMANAGERS:-2}"
SLOTS="${TAILGUARD_FLINK_SLOTS:-1}"                   # task slots per TaskManager
TM_MEMORY="${TAILGUARD_FLINK_TM_MEMORY:-4608m}"       # taskmanager.memory.process.size
TM_OFFHEAP="${TAILGUARD_FLINK_TM_OFFHEAP:-768m}"      # taskmanager.memory.task.off-heap.size
MANAGED_FRACTION="${TAILGUARD_FLINK_MANAGED_FRACTION:-0.35}" # taskmanager.memory.managed.fraction
TM_NETWORK="${TAILGUARD_FLINK_TM_NETWORK:-384m}"      # network buffers (min = max)
JM_MEMORY="${TAILGUARD_FLINK_JM_MEMORY:-1024m}"       # jobmanager.memory.process.size
JOB_SERVER_HEAP="${TAILGUARD_FLINK_JOB_SERVER_HEAP:-768m}"

# Flink's own launch scripts pass these on Java 17 (env.java.default-opts.all of Flink 1.19):
# Kryo and the streaming state reach into java.util / java.lang internals.
JAVA_OPENS=(--add-exports=java.base/sun.net.util=ALL-UNNAMED --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.text=ALL-UNNAMED
  --add-opens=java.base/java.time=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED)

log() { echo "local.sh: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # name port pid timeout_s
  local name=$1 port=$2 pid=$3 deadline=$((SECONDS + $4))
  until port_open "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited before listening on :$port; last log lines:"
      tail -n 30 "$RUN_DIR/log/$name.log" >&2 || true
      return 1
    fi
    if ((SECONDS > deadline)); then
      log "$name did not listen on :$port within $4 s (log: $RUN_DIR/log/$name.log)"
      return 1
    fi
    sleep 0.5
  done
}

fetch_flink() {
  [[ -f "$FLINK_HOME/lib/flink-dist-$FLINK_VERSION.jar" ]] && return 0
  local dl="$CACHE/downloads" archive="$CACHE/downloads/apache-flink-libraries-$FLINK_VERSION.tar.gz"
  mkdir -p "$dl"
  if [[ ! -f "$archive" ]]; then
    log "downloading apache-flink-libraries==$FLINK_VERSION from PyPI (~230 MB, once)"
    "$PYTHON" -m pip download -q --no-deps "apache-flink-libraries==$FLINK_VERSION" -d "$dl"
  fi
  local tmp
  tmp="$(mktemp -d "$CACHE/.flink.XXXXXX")"
  tar -xzf "$archive" -C "$tmp" "apache-flink-libraries-$FLINK_VERSION/deps/lib" "apache-flink-libraries-$FLINK_VERSION/deps/bin"
  rm -rf "$FLINK_HOME"
  mv "$tmp/apache-flink-libraries-$FLINK_VERSION/deps" "$FLINK_HOME"
  rm -rf "$tmp"
}

fetch_job_server() {
  [[ -f "$JOB_SERVER_LIB/.complete" ]] && return 0
  log "resolving the Beam Flink job server $BEAM_JOB_SERVER_VERSION from Maven Central (~150 MB, once)"
  rm -rf "$JOB_SERVER_LIB"
  mkdir -p "$JOB_SERVER_LIB"
  mvn -B -q -f "$REPO/deploy/flink/job-server/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$JOB_SERVER_LIB"
  # A launcher jar (manifest only: Main-Class + Class-Path of every lib jar) so the classpath can
  # also be used as `--flink_job_server_jar` (Flink's embedded mini-cluster, --flink_master=[local]).
  local manifest
  manifest="$(mktemp)"
  {
    echo "Main-Class: org.apache.beam.runners.flink.FlinkJobServerDriver"
    printf 'Class-Path:'
    for jar in "$JOB_SERVER_LIB"/*.jar; do printf ' \n  lib/%s' "$(basename "$jar")"; done
    printf '\n'
  } | sed 's/\\n/\n/g' >"$manifest"
  jar --create --file "$JOB_SERVER_JAR" --manifest "$manifest"
  rm -f "$manifest"
  touch "$JOB_SERVER_LIB/.complete"
}

fetch() {
  command -v "$JAVA" >/dev/null || { log "java not found"; return 1; }
  fetch_flink
  fetch_job_server
}

write_conf() {
  mkdir -p "$RUN_DIR/conf" "$RUN_DIR/log" "$RUN_DIR/pids" "$RUN_DIR/tmp"
  cat >"$RUN_DIR/conf/flink-conf.yaml" <<EOF
# written by deploy/flink/local.sh: a session cluster bound to localhost only
jobmanager.rpc.address: localhost
jobmanager.rpc.port: $JM_RPC_PORT
jobmanager.bind-host: localhost
jobmanager.memory.process.size: $JM_MEMORY
taskmanager.bind-host: localhost
taskmanager.host: localhost
taskmanager.numberOfTaskSlots: $SLOTS
taskmanager.memory.process.size: $TM_MEMORY
# Beam's batch translation of the whole pipeline runs ~100 operators at once; the default network
# memory (10 % of the process) failed with "Insufficient number of network buffers: required 512"
taskmanager.memory.network.min: $TM_NETWORK
taskmanager.memory.network.max: $TM_NETWORK
# each blocking (sort-based) result partition reserves this many 32 KB buffers (default 512:
# a few concurrent partitions used up the pool); 64 is plenty for 2 consumers
taskmanager.network.sort-shuffle.min-buffers: 64
# batch sorts and hash tables of ~100 concurrent operators share the managed memory; at 0.1 one
# record of a 10k-document run exceeded a sorter's buffer ("record exceeds the maximum size of a
# sort buffer (9994240 bytes)", before WriteCorpus grouped in 4 MB chunks). What is left is the task
# heap, where Beam's gRPC data plane buffers the harnesses' output: 3072m at 0.5 left ~360 MB, and a
# 1M-document run died with "OutOfMemoryError: Java heap space" in grpc-default-executor; 4608m at
# 0.35 (with 768m off-heap) leaves ~1.1 GB.
taskmanager.memory.managed.fraction: $MANAGED_FRACTION
# Beam's gRPC data plane to the SDK harnesses allocates direct (off-heap) buffers; with Flink's
# default of 0 a 20k-document ingest failed with "OutOfMemoryError: Direct buffer memory", and with
# 256m the 1M-document run failed the same way in WriteCorpus (each grouped 4 MB write chunk is
# one data-plane element)
taskmanager.memory.task.off-heap.size: $TM_OFFHEAP
rest.address: localhost
rest.bind-address: localhost
rest.port: $REST_PORT
parallelism.default: $((TASKMANAGERS * SLOTS))
# batch shuffles and sorts spill here (the reason a 1M-document run fits in memory)
io.tmp.dirs: $RUN_DIR/tmp
web.submit.enable: false
# Beam's batch translation can run longer than the default 10 s heartbeat on a loaded 2-core box
heartbeat.timeout: 120000
akka.ask.timeout: 60 s
# Beam's gRPC threads outlive a finished job's user-code class loader; the check only adds noise
classloader.check-leaked-classloader: false
# An OutOfMemoryError in one of Beam's gRPC threads is an uncaught exception that Flink only logs by
# default: the 1M-document run then hung for 45 min with idle harnesses. FAIL ends the TaskManager,
# so the job fails (after heartbeat.timeout) and says why, instead of waiting forever.
cluster.uncaught-exception-handling: FAIL
# Spread a job's tasks over the TaskManagers: with 4 slots each, a parallelism-2 ingest job would
# otherwise land both tasks on one TaskManager, whose single SDK harness then runs both bundles
# under one GIL (the other TaskManager's harness idle).
cluster.evenly-spread-out-slots: true
EOF
  cat >"$RUN_DIR/conf/log4j.properties" <<'EOF'
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
appender.main.name = MainAppender
appender.main.type = File
appender.main.fileName = ${sys:log.file}
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
logger.netty.name = org.apache.flink.shaded.akka.org.jboss.netty.channel.DefaultChannelPipeline
logger.netty.level = OFF
EOF
}

start() { # name command... : run in its own session (process group), record its pid
  local name=$1
  shift
  setsid "$@" >"$RUN_DIR/log/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN_DIR/pids/$name.pid"
}

jvm_params() { # GET_JM_RESOURCE_PARAMS | GET_TM_RESOURCE_PARAMS -> "JVM_ARGS\nDYNAMIC_PROPERTIES"
  "$JAVA" -cp "$FLINK_HOME/bin/bash-java-utils.jar:$FLINK_HOME/lib/*" org.apache.flink.runtime.util.bash.BashJavaUtils \
    "$1" --configDir "$RUN_DIR/conf" 2>/dev/null | sed -n 's/^BASH_JAVA_UTILS_EXEC_RESULT://p'
}

registered_taskmanagers() {
  curl -sf "http://localhost:$REST_PORT/taskmanagers" | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)["taskmanagers"]))' 2>/dev/null || echo 0
}

up() {
  if status >/dev/null 2>&1; then
    log "already up"
    status
    return 0
  fi
  down >/dev/null 2>&1 || true
  fetch
  write_conf
  for port in $REST_PORT $JOB_PORT $ARTIFACT_PORT $POOL_PORT $JM_RPC_PORT; do
    if port_open "$port"; then
      log "port $port is taken by another process; set TAILGUARD_FLINK_*_PORT (see the top of $0)"
      return 1
    fi
  done
  local jm tm
  mapfile -t jm < <(jvm_params GET_JM_RESOURCE_PARAMS)
  # shellcheck disable=SC2086  # the JVM-argument and dynamic-property lists are meant to split
  start jobmanager "$JAVA" "${JAVA_OPENS[@]}" ${jm[0]} -Dlog.file="$RUN_DIR/log/jobmanager.flink.log" \
    -Dlog4j.configurationFile="file:$RUN_DIR/conf/log4j.properties" -cp "$FLINK_HOME/lib/*" \
    org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint --configDir "$RUN_DIR/conf" \
    --executionMode cluster ${jm[1]:-}
  wait_port jobmanager "$REST_PORT" "$(cat "$RUN_DIR/pids/jobmanager.pid")" 120
  mapfile -t tm < <(jvm_params GET_TM_RESOURCE_PARAMS)
  for i in $(seq 1 "$TASKMANAGERS"); do
    # shellcheck disable=SC2086
    start "taskmanager-$i" "$JAVA" "${JAVA_OPENS[@]}" ${tm[0]} -Dlog.file="$RUN_DIR/log/taskmanager-$i.flink.log" \
      -Dlog4j.configurationFile="file:$RUN_DIR/conf/log4j.properties" -cp "$FLINK_HOME/lib/*" \
      org.apache.flink.runtime.taskexecutor.TaskManagerRunner --configDir "$RUN_DIR/conf" ${tm[1]} \
      -D "taskmanager.resource-id=taskmanager-$i"
  done
  local deadline=$((SECONDS + 120))
  until [[ "$(registered_taskmanagers)" -ge "$TASKMANAGERS" ]]; do
    ((SECONDS < deadline)) || { log "task managers did not register within 120 s (logs: $RUN_DIR/log)"; return 1; }
    sleep 1
  done
  start job-server "$JAVA" "${JAVA_OPENS[@]}" "-Xmx$JOB_SERVER_HEAP" -cp "$JOB_SERVER_LIB/*" \
    org.apache.beam.runners.flink.FlinkJobServerDriver --flink-master="localhost:$REST_PORT" \
    --job-host=localhost --job-port="$JOB_PORT" --artifact-port="$ARTIFACT_PORT" \
    --expansion-port="$EXPANSION_PORT" --artifacts-dir="$RUN_DIR/artifacts"
  wait_port job-server "$JOB_PORT" "$(cat "$RUN_DIR/pids/job-server.pid")" 120
  # The pool forks one SDK harness per request with the `python` first on PATH: make it ours.
  # deploy/flink/worker_pool.py = Beam's worker_pool_main with its stop/start pairing fixed.
  PATH="$(dirname "$PYTHON"):$PATH" start worker-pool "$PYTHON" "$REPO/deploy/flink/worker_pool.py" \
    --service_port="$POOL_PORT" --harness_log="$RUN_DIR/log/sdk-harness.log"
  wait_port worker-pool "$POOL_PORT" "$(cat "$RUN_DIR/pids/worker-pool.pid")" 60
  status
}

COMPONENTS=(worker-pool job-server)
components() { # every recorded component, the cluster last (stopped last, started first)
  local names=("${COMPONENTS[@]}")
  for f in "$RUN_DIR"/pids/taskmanager-*.pid; do [[ -f "$f" ]] && names+=("$(basename "$f" .pid)"); done
  names+=(jobmanager)
  printf '%s\n' "${names[@]}"
}

down() {
  local name pidfile pid
  for name in $(components); do
    pidfile="$RUN_DIR/pids/$name.pid"
    [[ -f "$pidfile" ]] || continue
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
      # each component runs in its own process group (setsid): this ends it and what it forked
      kill -TERM -- "-$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      log "stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
  done
}

status() {
  local ok=0 name pidfile pid state
  for name in $(components); do
    pidfile="$RUN_DIR/pids/$name.pid"
    if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      pid="$(cat "$pidfile")" state=running
    else
      pid=- state=stopped ok=1
    fi
    printf '%-14s %-8s pid %s\n' "$name" "$state" "$pid"
  done
  [[ -f "$RUN_DIR/pids/jobmanager.pid" ]] || ok=1
  local tms
  tms="$(registered_taskmanagers)"
  printf 'task managers registered: %s of %s (REST http://localhost:%s)\n' "$tms" "$TASKMANAGERS" "$REST_PORT"
  [[ "$tms" -ge "$TASKMANAGERS" ]] || ok=1
  for port in $JOB_PORT $POOL_PORT; do port_open "$port" || ok=1; done
  printf 'job server localhost:%s, worker pool localhost:%s, logs %s/log\n' "$JOB_PORT" "$POOL_PORT" "$RUN_DIR"
  return $ok
}

case "${1:-}" in
  fetch) fetch ;;
  job-server-jar) echo "$JOB_SERVER_JAR" ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *)
    echo "usage: $0 fetch|up|down|status|job-server-jar" >&2
    exit 2
    ;;
esac
