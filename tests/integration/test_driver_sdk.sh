#!/usr/bin/env bash
# A third party's view of the driver ABI: `make install` into a scratch
# root, then a driver written outside the tree against the installed
# <cam/driver.h> alone (C and C++), its manifest and hash made by hand,
# served by the installed cam-kernel and cam-driver-host; the installed
# example drivers load as they are. Client: Debian's python3-grpcio.
#
# SPDX-License-Identifier: Apache-2.0
set -uo pipefail
source "$(dirname "$0")/lib.sh"

ROOTFS="$TMP/root"; PREFIX=/usr/local; P="$ROOTFS$PREFIX"
check "make install into a scratch root" \
  bash -c "make -s -C '$ROOT' install BUILD='$BUILD' DESTDIR='$ROOTFS' PREFIX='$PREFIX' >'$TMP/install.log' 2>&1"
check "installed: the ABI header, cam-driver-host beside cam-kernel, the example drivers" \
  test -f "$P/include/cam/driver.h" -a -x "$P/bin/cam-driver-host" -a -x "$P/bin/cam-kernel" \
    -a -f "$P/lib/cam-os/drivers/kv_cache/manifest.json"

# The third party's driver: rot13, nothing from the CAM-OS tree but the header.
SDK="$TMP/thirdparty"; mkdir -p "$SDK/rot13" "$SDK/cxxecho"
cat >"$TMP/rot13.c" <<'EOF'
#include <cam/driver.h>
#include <stdio.h>

CAM_DRIVER_DEFINE_ABI;

CAM_DRIVER_EXPORT int cam_driver_init(const char *config, void **state)
{
	(void)config;
	*state = NULL;
	return CAM_DRIVER_OK;
}

CAM_DRIVER_EXPORT int cam_driver_invoke(void *state, const char *op, const char *in, size_t len,
					struct cam_driver_buf *out)
{
	char buf[CAM_DRIVER_MAX_INPUT];

	(void)state;
	if (strcmp(op, "rot13") != 0)
		return CAM_DRIVER_ENOTSUP;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		buf[i] = (c >= 'a' && c <= 'z') ? (char)('a' + (c - 'a' + 13) % 26)
		       : (c >= 'A' && c <= 'Z') ? (char)('A' + (c - 'A' + 13) % 26) : c;
	}
	return cam_driver_buf_append(out, buf, len);
}

CAM_DRIVER_EXPORT int cam_driver_health(void *state, char *msg, size_t msglen)
{
	(void)state;
	snprintf(msg, msglen, "spinning the alphabet");
	return CAM_DRIVER_HEALTHY;
}

CAM_DRIVER_EXPORT void cam_driver_shutdown(void *state)
{
	(void)state;
}
EOF
cat >"$TMP/cxxecho.cc" <<'EOF'
#include <cam/driver.h>
#include <string>

// No extern "C" needed: <cam/driver.h> declares these with C linkage.
CAM_DRIVER_DEFINE_ABI;

CAM_DRIVER_EXPORT int cam_driver_init(const char *, void **state)
{
	*state = new std::string("echo: ");
	return CAM_DRIVER_OK;
}
CAM_DRIVER_EXPORT int cam_driver_invoke(void *state, const char *, const char *in, size_t len,
					struct cam_driver_buf *out)
{
	std::string s = *static_cast<std::string *>(state) + std::string(in, len);
	return cam_driver_buf_append(out, s.data(), s.size());
}
CAM_DRIVER_EXPORT int cam_driver_health(void *, char *msg, size_t msglen)
{
	msg[0] = msglen ? '\0' : msg[0];
	return CAM_DRIVER_HEALTHY;
}
CAM_DRIVER_EXPORT void cam_driver_shutdown(void *state)
{
	delete static_cast<std::string *>(state);
}
EOF
manifest() { # NAME LIBRARY CAP
  cat >"$SDK/$1/manifest.json" <<EOF
{
  "name": "$1", "version": "0.0.1", "author": "Someone Else", "license": "Apache-2.0",
  "abi_version": 1, "library": "$2",
  "sha256": "$(sha256sum "$SDK/$1/$2" | cut -d' ' -f1)",
  "price_micro_usd": 7, "capabilities": ["$3"]
}
EOF
}
check "a C driver builds against the installed header alone (-Wall -Wextra -Werror)" \
  cc -std=c11 -Wall -Wextra -Werror -fPIC -shared -I"$P/include" "$TMP/rot13.c" -o "$SDK/rot13/rot13.so"
check "a C++ driver builds against it too" \
  c++ -std=c++17 -Wall -Wextra -Werror -fPIC -shared -I"$P/include" "$TMP/cxxecho.cc" -o "$SDK/cxxecho/cxxecho.so"
manifest rot13 rot13.so rot13
manifest cxxecho cxxecho.so echo

BUS="ipc://$TMP/bus.ipc"; GRPC_PORT=$(free_port); G="127.0.0.1:$GRPC_PORT"
start kernel "$P/bin/cam-kernel" --bus-addr "$BUS" --grpc-listen "$G" --drivers-dir "$SDK"
KERNEL=$LAST_PID
grpcurl() { /usr/bin/python3 "$ROOT/tests/integration/grpcurl.py" "$@"; }
ex() { grpcurl -d "{\"verb\": \"$1\", \"payload\": \"$2\"}" "$G" cam.SyscallService/Execute 2>&1; }
has() { printf '%s' "$1" | grep -q -- "$2"; }
wait_for 10 grpcurl "$G" list || not_ok "installed cam-kernel starts"
r=$(ex driver_load "driver:rot13")
check "the installed kernel loads the third-party driver ($r)" has "$r" "driver:rot13,version:0.0.1,instances:1"
r=$(ex driver_invoke "driver:rot13,operation:rot13,payload:Hello, World")
check "rot13 through the installed cam-driver-host" has "$r" "output:Uryyb, Jbeyq"
r=$(ex driver_load "driver:cxxecho")
check "the C++ driver loads" has "$r" "version:0.0.1"
r=$(ex driver_invoke "driver:cxxecho,operation:echo,payload:hi")
check "and answers" has "$r" "output:echo: hi"
check "a helper process per driver, the installed one" \
  test "$(ps -eo args= | grep -c "^$P/bin/cam-driver-host ")" -eq 2
# The hash is the contract: change one byte of the object and it is refused.
printf 'x' >>"$SDK/rot13/rot13.so"
ex driver_unload "driver:rot13" >/dev/null
r=$(ex driver_load "driver:rot13")
check "a changed object no longer matches its manifest: FAILED_PRECONDITION" has "$r" "FAILED_PRECONDITION: .*sha256"
stop_pid "$KERNEL"

start kernel2 "$P/bin/cam-kernel" --bus-addr "$BUS" --grpc-listen "$G" \
  --drivers-dir "$P/lib/cam-os/drivers" --drivers-autoload text_transform,kv_cache
KERNEL=$LAST_PID
wait_for 10 grpcurl "$G" list || not_ok "installed cam-kernel starts again"
r=$(ex driver_list "")
check "the installed example drivers autoload ($r)" has "$r" "loaded:2,"
r=$(ex driver_invoke "driver:text_transform,operation:upper,payload:installed")
check "and answer" has "$r" "output:INSTALLED"
stop_pid "$KERNEL"
check "no helper left behind" bash -c "! ps -eo args= | grep -q '^$P/bin/cam-driver-host '"
finish
