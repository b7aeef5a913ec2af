#!/bin/sh
# The main job on an embedded default: installs what is missing, builds
# loaxa, starts the bundled sandbox provider (no real credentials) and
# loaxad on a scratch directory with Đông Hà commune's four village groups,
# imports etc/households.sample.csv, sends a meeting invitation to all four
# groups and an urgent notice, shows live progress, then the per-group
# result and the list of households to visit in person, and stops cleanly.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
CC=${CC:-gcc} sh scripts/build.sh build
loaxad=$PWD/build/daemon/loaxad
loaxa=$PWD/build/cli/loaxa
sandbox=$PWD/build/sandbox/loaxa-sandbox

scratch=$(mktemp -d /tmp/loaxa-demo.XXXXXX)
pid= spid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	[ -n "$spid" ] && kill "$spid" 2>/dev/null || true
	rm -rf "$scratch"
}
trap cleanup EXIT INT TERM

echo "== starting the sandbox provider (fake Zalo ZNS and eSMS, 100 ms latency)"
$sandbox --port-file "$scratch/port" --latency 100 >"$scratch/sandbox.log" 2>&1 &
spid=$!
i=0
until [ -s "$scratch/port" ]; do
	i=$((i + 1)); [ $i -gt 100 ] && { cat "$scratch/sandbox.log"; exit 1; }
	sleep 0.05
done
port=$(cat "$scratch/port")
base=http://127.0.0.1:$port

# Secrets live in files (mode 0600), never in loaxa.ini.
mkdir -m 700 "$scratch/secrets"
umask 077
printf 'sandbox-access-token\n' >"$scratch/secrets/zalo-access-token"
printf 'sandbox-key\n' >"$scratch/secrets/esms-api-key"
printf 'sandbox-secret\n' >"$scratch/secrets/esms-secret-key"
umask 022

cat >"$scratch/loaxa.ini" <<INI
; demo configuration: everything else at its default (see etc/loaxa.ini).
; No [groups] section: the built-in default is Đông Hà's four groups.
[daemon]
state_dir = $scratch/state

[api]
socket = $scratch/api.sock

[broadcast]
; the demo runs at any hour: no quiet hours
quiet_hours =

[route]
chain = zns, sms

[channel.zns]
driver = zns
url = $base/message/template
allow_http = yes
access_token_file = $scratch/secrets/zalo-access-token
template_id = 231456
template_data = ten={name}, nhom={group}, noi_dung={title}, thoi_gian={time}
rate = 20

[channel.sms]
driver = esms
url = $base/MainService.svc/json/SendMultipleMessage_V4_post_json/
allow_http = yes
api_key_file = $scratch/secrets/esms-api-key
secret_key_file = $scratch/secrets/esms-secret-key
brandname = UBNDDONGHA
rate = 10
INI

echo "== loaxad --check-config"
$loaxad --config "$scratch/loaxa.ini" --check-config

echo "== starting loaxad (state in $scratch/state)"
$loaxad --config "$scratch/loaxa.ini" 2>"$scratch/loaxad.log" &
pid=$!
export LOAXA_SOCKET="$scratch/api.sock"
i=0
until $loaxa status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "loaxad did not start:" >&2
		cat "$scratch/loaxad.log" >&2
		exit 1
	fi
	sleep 0.1
done

echo
echo "== loaxa groups"
$loaxa groups
echo
echo "== loaxa import etc/households.sample.csv"
$loaxa import etc/households.sample.csv
echo
echo "== two more households: one has no Zalo (its invitation goes by SMS),"
echo "   one number was mistyped (nobody can reach it: a visit is needed)"
$loaxa household add --group "Nam Hà" --name "Đinh Văn Sơn" \
	--phone "0912 000 118" --address "Tổ 4, thôn Nam Hà" >/dev/null
$loaxa household add --group "Nam Hà" --name "Trương Thị Tuyết" \
	--phone "0912 000 108" --address "Tổ 5, thôn Nam Hà" >/dev/null
$loaxa households --group "Nam Hà"
echo

at=$(date -d "+3 days 19:30" "+%H:%M %d/%m/%Y")
echo "== loaxa invite: a meeting of all four groups at $at"
out=$($loaxa --json invite --all --title "Họp dân về thu gom rác thải" \
	--at "$at" --place "Nhà văn hóa xã Đông Hà" \
	--agenda "Lịch thu gom rác mới; đóng góp quỹ vệ sinh" \
	--remind "1 day before")
meeting=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
$loaxa show "$meeting" | head -n 12
echo
echo "== accounts: two commune officials, each with a personal API token"
$loaxa user add binh --role official --display-name "Nguyễn Văn Bình" >/dev/null
$loaxa user add chi --role official --display-name "Lê Thị Chi" >/dev/null
binh_token=$($loaxa user token binh --label demo 2>/dev/null)
chi_token=$($loaxa user token chi --label demo 2>/dev/null)
$loaxa user list
echo
echo "== binh: loaxa notify --urgent, a storm warning to everyone"
out=$(LOAXA_TOKEN=$binh_token $loaxa --json notify --urgent --all \
	--title "Cảnh báo mưa lớn" \
	--body "Mưa lớn đêm nay, đề nghị các hộ kiểm tra mái nhà và không ra sông.")
urgent=$(printf '%s' "$out" | python3 -c 'import json,sys; b = json.load(sys.stdin); print(b["id"]); print("state:", b["state"], file=sys.stderr)')
echo "== an urgent notice to every group waits for a second official;"
echo "   binh cannot approve his own:"
LOAXA_TOKEN=$binh_token $loaxa approve "$urgent" || true
echo "== chi approves it: it is sent at once, ahead of the meeting"
LOAXA_TOKEN=$chi_token $loaxa approve "$urgent"

if $loaxa help watch >/dev/null 2>&1; then
	echo "== loaxa watch $urgent (the urgent notice goes first)"
	$loaxa watch "$urgent"
	echo
	echo "== loaxa watch $meeting"
	$loaxa watch "$meeting"
else
	for id in "$urgent" "$meeting"; do
		while :; do
			line=$($loaxa --json show "$id" | python3 -c '
import json, sys
b = json.load(sys.stdin); c = b["counts"]; p = b["progress"]
print("broadcast %d: %d/%d (%.0f%%) sent %d failed %d queued %d sending %d"
      % (b["id"], p["final"], p["total"], p["percent"], c["sent"],
         c["failed"], c["queued"], c["sending"]))
sys.exit(0 if c["queued"] + c["sending"] else 3)') || { echo "$line"; break; }
			echo "$line"
			sleep 1
		done
	done
fi

echo
echo "== loaxa show $meeting (the per-group result)"
$loaxa show "$meeting"
if $loaxa help report >/dev/null 2>&1; then
	echo
	echo "== loaxa report $meeting --not-reached (the list for home visits)"
	$loaxa report "$meeting" --not-reached
fi
echo
echo "== loaxa status"
$loaxa status

echo
echo "== stopping loaxad (SIGTERM)"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
echo "loaxad exited with status $rc; its log:"
sed 's/^/  /' "$scratch/loaxad.log"
exit $rc
