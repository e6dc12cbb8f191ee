#!/usr/bin/env bash
# The five-country Docker testnet: up | down | wait | info | load-volumes.
#
#   testnet/testnet.sh up      build the image, generate keys and genesis on
#                              first use, start the five nodes and the
#                              identity provider (idp), wait until
#                              ready, print how to reach them (NETEM=1 also
#                              emulates WAN latency, see testnet/netem.sh)
#   testnet/testnet.sh wait    wait until every node is ready, meshed, with one leader
#   testnet/testnet.sh info    the API URL and admin token of each node
#   testnet/testnet.sh down    remove containers, network, volumes and the generated state
#
# Everything generated lives in testnet/.state/ (git-ignored): the nodes'
# data dirs as `xborder init` wrote them (key, config, admin.token, genesis),
# federation.json, the identity provider's CA, certificate and client
# secrets (idp/) and the images' build contexts. Each node's data dir is
# copied into its own Docker volume before its first start.
set -euo pipefail
cd "$(dirname "$0")/.."

STATE=testnet/.state
BIN=${BIN:-bin/xborder}
IMAGE=xborder-testnet:latest
DATASPACE_IMAGE=xborder-dataspace:latest
# The participant of a dataspace outside the federation (testnet/cmd/dataspace)
# and the one node that deals with it.
DATASPACE_ID=did:web:dataspace.testnet
DATASPACE_ADDRESS=http://dataspace:8181
DATASPACE_PROVIDER=fr-grandest
# The regions' identity provider (testnet/cmd/idp), and the regions whose
# policy trusts it: the others keep the shipped identity policy, which
# trusts no testnet issuer.
IDP_IMAGE=xborder-idp:latest
IDP_ISSUER=https://idp:8443
IDP_TRUSTED_BY="fr-grandest de-bw"
PROJECT=xborder-testnet
NETWORK=xborder-testnet
FEDERATION=grand-est-testnet
WAIT_TIMEOUT=${WAIT_TIMEOUT:-180}
UID_GID=65532

# name country org ip api-port
NODES=(
  "fr-grandest FR Région_Grand_Est 10.207.74.11 17401"
  "de-bw DE Land_Baden-Württemberg 10.207.74.12 17402"
  "ch-basel CH Kanton_Basel-Stadt 10.207.74.13 17403"
  "be-wallonie BE Région_wallonne 10.207.74.14 17404"
  "lu-luxembourg LU Grand-Duché_de_Luxembourg 10.207.74.15 17405"
)

die() { echo "testnet: $*" >&2; exit 1; }
log() { echo "testnet: $*" >&2; }

need_docker() {
  command -v docker >/dev/null 2>&1 || die "docker is not installed: the testnet needs Docker Engine"
  docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (docker info failed): start it, or run as a user allowed to use it"
  if command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=(docker-compose -p "$PROJECT" -f testnet/docker-compose.yml)
  elif docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose -p "$PROJECT" -f testnet/docker-compose.yml)
  else
    die "neither docker-compose nor 'docker compose' is installed"
  fi
}

build() {
  [ -x "$BIN" ] || die "$BIN is missing: run 'make build' (or 'make testnet')"
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/tlscopy ./testnet/cmd/tlscopy
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/dataspace ./testnet/cmd/dataspace
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o bin/idp ./testnet/cmd/idp
  rm -rf "$STATE/image"
  mkdir -p "$STATE/image/data"
  cp "$BIN" "$STATE/image/xborder"
  cp bin/tlscopy "$STATE/image/tlscopy"
  log "building $IMAGE (FROM scratch)"
  docker build -q -t "$IMAGE" -f testnet/Dockerfile "$STATE/image" >/dev/null
}

generate() {
  rm -rf "$STATE/nodes" "$STATE/federation.json" "$STATE/loaded" "$STATE/dataspace" "$STATE/idp"
  mkdir -p "$STATE/nodes" "$STATE/dataspace"
  bin/dataspace keygen -key "$STATE/dataspace/dataspace.key" >"$STATE/dataspace/dataspace.pem"
  local dirs=()
  for n in "${NODES[@]}"; do
    read -r name cc org ip port <<<"$n"
    "$BIN" --data "$STATE/nodes/$name" init --name "$name" --country "$cc" --org "${org//_/ }" \
      --listen /ip4/0.0.0.0/tcp/7400,/ip4/0.0.0.0/udp/7400/quic-v1 \
      --advertise "/ip4/$ip/tcp/7400,/ip4/$ip/udp/7400/quic-v1" \
      --api 0.0.0.0:7401 >/dev/null 2>&1 || die "xborder init $name failed"
    # Its address on the network: the DCAT IRIs and the dataspace's data
    # addresses name it.
    echo "public_url: http://$name:7401" >>"$STATE/nodes/$name/config.yaml"
    dirs+=("$STATE/nodes/$name")
  done
  dataspace_config "$STATE/nodes/$DATASPACE_PROVIDER"
  idp_config
  "$BIN" genesis --federation "$FEDERATION" --out "$STATE/federation.json" "${dirs[@]}" >"$STATE/federation.id"
  for d in "${dirs[@]}"; do cp "$STATE/federation.json" "$d/federation.json"; done
  log "federation $FEDERATION $(cut -c1-16 "$STATE/federation.id")…: keys and genesis in $STATE/"
}

# dataspace_config DIR: the node takes part in the dataspace, and knows the
# dataspace container as a participant: its id, key and callback address.
dataspace_config() {
  {
    echo "dataspace:"
    echo "  enabled: true"
    echo "  participants:"
    echo "    - id: $DATASPACE_ID"
    echo "      country: DE"
    echo "      org: Dataspace testnet consumer"
    echo "      address: $DATASPACE_ADDRESS"
    echo "      public_key: |"
    sed 's/^/        /' "$STATE/dataspace/dataspace.pem"
  } >>"$1/config.yaml"
  bin/dataspace public-key "$1/key" >"$STATE/dataspace/$(basename "$1").pem"
}

# idp_config: the identity provider's CA, certificate and clients
# (idp init), and each node's identity_providers entry for it, with its
# client secret and the CA in its data dir; the regions of IDP_TRUSTED_BY
# trust the issuer in a policy file of their own.
idp_config() {
  local regions=()
  for n in "${NODES[@]}"; do
    read -r name _ <<<"$n"
    regions+=("$name=http://$name:7401")
  done
  bin/idp init -out "$STATE/idp" "${regions[@]}"
  for n in "${NODES[@]}"; do
    read -r name _ <<<"$n"
    local d=$STATE/nodes/$name
    cp "$STATE/idp/ca.pem" "$d/idp-ca.pem"
    cp "$STATE/idp/$name.secret" "$d/idp-client.secret"
    chmod 600 "$d/idp-client.secret"
    {
      echo "identity_providers:"
      echo "  - name: eucor-idp"
      echo "    display_name: Eucor (testnet IdP)"
      echo "    issuer: $IDP_ISSUER"
      echo "    client_id: xborder-$name"
      echo "    client_secret_file: idp-client.secret"
      echo "    ca_file: idp-ca.pem"
      echo "    device_client_id: xborder-cli"
    } >>"$d/config.yaml"
    if [[ " $IDP_TRUSTED_BY " == *" $name "* ]]; then
      {
        echo "# This region trusts the testnet's identity provider (testnet/testnet.sh):"
        echo "# the Eucor researchers it vouches for are researchers here."
        echo "package xborder.api"
        echo
        echo "trusted_issuers[\"$IDP_ISSUER\"] := \"Testnet IdP (Eucor)\""
      } >"$d/policies/local_identity.rego"
    fi
  done
}

# idp_image: the identity provider's image, FROM scratch: the binary, its
# certificate and key, the regions' clients.
idp_image() {
  local ctx=$STATE/idp/image
  rm -rf "$ctx"
  mkdir -p "$ctx/config"
  cp bin/idp "$ctx/"
  cp "$STATE/idp/idp.pem" "$STATE/idp/idp.key" "$STATE/idp/clients.json" "$ctx/config/"
  docker build -q -t "$IDP_IMAGE" -f testnet/idp.Dockerfile "$ctx" >/dev/null
}

# dataspace_image: the dataspace container's image, FROM scratch: the
# binary, its key and the provider's public key (a local image, never
# pushed; `down` removes it with the keys).
dataspace_image() {
  local ctx=$STATE/dataspace/image
  rm -rf "$ctx"
  mkdir -p "$ctx"
  cp bin/dataspace "$STATE/dataspace/dataspace.key" "$ctx/"
  cp "$STATE/dataspace/$DATASPACE_PROVIDER.pem" "$ctx/fr-grandest.pem"
  docker build -q -t "$DATASPACE_IMAGE" -f testnet/dataspace.Dockerfile "$ctx" >/dev/null
}

# load_volume NAME DIR: copies a data dir into the (created, stopped)
# container's /data volume; the tar headers make the image's user (65532)
# the owner (docker cp keeps them; `-a` would look the user up on the host).
load_volume() {
  tar -C "$2" --owner=$UID_GID --group=$UID_GID -cf - . | docker cp - "$1:/data"
}

running() { [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

up() {
  need_docker
  build
  if [ ! -f "$STATE/federation.json" ]; then
    generate
  fi
  [ -f "$STATE/dataspace/dataspace.key" ] ||
    die "$STATE predates the dataspace participant: run 'make testnet-down' first"
  [ -f "$STATE/idp/clients.json" ] ||
    die "$STATE predates the identity provider: run 'make testnet-down' first"
  dataspace_image
  idp_image
  if [ ! -f "$STATE/loaded" ]; then
    # Fresh volumes: create the containers, copy each data dir in.
    "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
    "${COMPOSE[@]}" up --no-start
    for n in "${NODES[@]}"; do
      read -r name _ <<<"$n"
      load_volume "$name" "$STATE/nodes/$name"
    done
    touch "$STATE/loaded"
  fi
  "${COMPOSE[@]}" up -d
  if [ "${NETEM:-0}" = 1 ]; then
    testnet/netem.sh on
  fi
  wait_ready
  info
}

# status NAME PORT: the node's status as JSON, or nothing.
status() {
  "$BIN" --addr "http://127.0.0.1:$2" --token "$(cat "$STATE/nodes/$1/admin.token")" status --json 2>/dev/null || true
}

wait_ready() {
  [ -f "$STATE/federation.json" ] || die "no testnet state: run 'make testnet' first"
  local start=$SECONDS
  while :; do
    local ok=0 leaders=0 why=""
    for n in "${NODES[@]}"; do
      read -r name _ _ _ port <<<"$n"
      local s
      s=$(status "$name" "$port")
      if ! running "$name"; then why="$why $name:not-running"; continue; fi
      if ! grep -q '"ready": true' <<<"$s"; then why="$why $name:not-ready"; continue; fi
      if ! grep -q '"peers_connected": 4' <<<"$s"; then why="$why $name:not-meshed"; continue; fi
      grep -q '"state": "leader"' <<<"$s" && leaders=$((leaders + 1))
      ok=$((ok + 1))
    done
    running idp || why="$why idp:not-running"
    if [ "$ok" = 5 ] && [ "$leaders" = 1 ] && running idp; then
      log "five nodes ready, full mesh, one raft leader, identity provider up ($((SECONDS - start)) s)"
      return 0
    fi
    [ "$leaders" -gt 1 ] && why="$why leaders:$leaders"
    [ "$ok" = 5 ] && [ "$leaders" = 0 ] && why="$why no-leader-yet"
    if [ $((SECONDS - start)) -ge "$WAIT_TIMEOUT" ]; then
      for n in "${NODES[@]}"; do read -r name _ <<<"$n"; echo "--- $name" >&2; docker logs --tail 15 "$name" >&2 || true; done
      die "not ready after ${WAIT_TIMEOUT}s:$why"
    fi
    sleep 0.5
  done
}

info() {
  echo
  echo "Five-country testnet (federation $FEDERATION, network $NETWORK 10.207.74.0/24):"
  printf '  %-14s %-24s %-16s %s\n' NODE API P2P "ADMIN TOKEN"
  for n in "${NODES[@]}"; do
    read -r name _ _ ip port <<<"$n"
    printf '  %-14s %-24s %-16s %s\n' "$name" "http://127.0.0.1:$port" "$ip:7400" "$STATE/nodes/$name/admin.token"
  done
  echo
  echo "Talk to a node:"
  echo "  XBORDER_ADDR=http://127.0.0.1:17402 XBORDER_TOKEN=\$(cat $STATE/nodes/de-bw/admin.token) $BIN status"
  echo "Researcher token:  $BIN --data $STATE/nodes/de-bw token issue --sub alice@uni-freiburg.de --role researcher"
  echo "Identity provider: $IDP_ISSUER (127.0.0.1:17443 on the host, CA $STATE/idp/ca.pem; users in testnet/README.md)"
  echo "Dataspace:         docker-compose -p $PROJECT -f testnet/docker-compose.yml run --rm --name dataspace dataspace run --provider http://fr-grandest:7401 --provider-id urn:xborder:fr-grandest --open ID --refused ID"
  echo "Scenarios:         make testnet-test    Faults: see testnet/README.md    Stop: make testnet-down"
}

down() {
  need_docker
  testnet/netem.sh off >/dev/null 2>&1 || true
  docker rm -f xb-stranger dataspace >/dev/null 2>&1 || true
  docker volume rm -f xborder-testnet-stranger >/dev/null 2>&1 || true
  # A container killed mid-scenario can leave a stale endpoint that keeps
  # the network from being removed: disconnect whatever is left first.
  for ep in $(docker network inspect -f '{{range $k, $v := .Containers}}{{$v.Name}} {{end}}' xborder-testnet 2>/dev/null); do
    docker network disconnect -f xborder-testnet "$ep" >/dev/null 2>&1 || true
  done
  if ! "${COMPOSE[@]}" down -v --remove-orphans; then
    # The containers are gone; a network the daemon still holds an
    # endpoint for is left behind (a Docker daemon restart clears it).
    # Remove the volumes anyway and say so rather than fail the teardown.
    docker volume rm -f $(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT") >/dev/null 2>&1 || true
    log "warning: the network could not be removed (a stale endpoint in the Docker daemon); restart dockerd to clear it"
  fi
  # The next release's image a rolling-upgrade scenario built.
  docker rmi -f xborder-testnet:next >/dev/null 2>&1 || true
  # The dataspace container's image holds keys of the state removed below.
  docker rmi -f "$DATASPACE_IMAGE" >/dev/null 2>&1 || true
  docker rmi -f "$IDP_IMAGE" >/dev/null 2>&1 || true
  rm -rf "$STATE"
  log "containers, network, volumes and $STATE removed"
}

case "${1:-}" in
  up) up ;;
  wait) need_docker; wait_ready ;;
  info) info ;;
  down) down ;;
  *) echo "usage: $0 up|wait|info|down" >&2; exit 2 ;;
esac
