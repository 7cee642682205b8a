#!/usr/bin/env bash
# Boots Debian's own kernel under QEMU (software emulation) with a busybox initramfs that
# carries the given binaries (with the shared libraries ldd names), files and the kernel TLS
# modules, runs one command inside, and returns its exit status and output.
#
#   tests/vm/vm-run.sh CACHE_DIR [-b BINARY]... [-f SRC=DEST]... [-t SECONDS] [-a] -- COMMAND
#
# CACHE_DIR keeps the unpacked kernel between runs (under the build tree). The kernel is the
# bookworm candidate of linux-image-amd64, fetched with `apt-get download` and unpacked with
# dpkg-deb (the image and the modules needed): nothing is installed on the host. Binaries land in /bin inside the VM, files at
# DEST (relative to /), the command runs in /tmp as root with /proc, /sys, /dev and /tmp
# mounted and loopback up. Exit status: the command's; 77 when the kernel or QEMU cannot be had
# (ctest reports a skip); 124 when the VM did not finish in time.
#
# -a also loads the x86 AES-NI and CLMUL drivers (aesni-intel, ghash-clmulni-intel), so that
# the kernel's AES-GCM uses the same instructions as OpenSSL's (QEMU emulates them); without it
# the kernel has only the generic C code, which is fine for correctness but not for comparing
# kernel TLS with OpenSSL (bench/ktls-vm.sh). A cache unpacked before -a existed lacks them:
# remove CACHE_DIR/kernel to fetch it again.
set -euo pipefail

usage() {
  echo "usage: $0 CACHE_DIR [-b BINARY]... [-f SRC=DEST]... [-t SECONDS] [-a] -- COMMAND" >&2
  exit 2
}
[ $# -ge 1 ] || usage
cache=$(realpath -m "$1")
shift
bins=()
files=()
limit=300
accel=0
while [ $# -gt 0 ]; do
  case "$1" in
    -b) bins+=("$2"); shift 2 ;;
    -f) files+=("$2"); shift 2 ;;
    -t) limit="$2"; shift 2 ;;
    -a) accel=1; shift ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
[ $# -ge 1 ] || usage
command="$*"

for tool in qemu-system-x86_64 busybox; do
  command -v "$tool" >/dev/null || { echo "vm-run: $tool missing (scripts/deps.sh test)"; exit 77; }
done
busybox_bin=$(command -v busybox)
if ldd "$busybox_bin" >/dev/null 2>&1; then
  echo "vm-run: $busybox_bin is not static (busybox-static)"; exit 77
fi

# ---- the kernel, fetched once ----
mkdir -p "$cache"
kdir="$cache/kernel"
vmlinuz=$(ls "$kdir"/boot/vmlinuz-* 2>/dev/null | head -1 || true)
if [ -z "$vmlinuz" ]; then
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$pkg" ] || { echo "vm-run: no linux-image-amd64 candidate in apt's lists"; exit 77; }
  echo "vm-run: fetching $pkg"
  rm -rf "$cache/deb" && mkdir -p "$cache/deb"
  (cd "$cache/deb" && apt-get download "$pkg" >/dev/null 2>&1) ||
    { echo "vm-run: apt-get download $pkg failed (offline?)"; exit 77; }
  # Only the kernel image and the crypto and TLS modules (the whole package unpacks to 400 MB).
  rm -rf "$kdir.tmp" && mkdir -p "$kdir.tmp"
  dpkg-deb --fsys-tarfile "$cache"/deb/*.deb |
    tar -x -C "$kdir.tmp" --wildcards './boot/vmlinuz-*' './lib/modules/*/kernel/crypto/*' \
      './lib/modules/*/kernel/lib/crypto/*' './lib/modules/*/kernel/net/tls/*' \
      './lib/modules/*/kernel/arch/x86/crypto/*'
  mv "$kdir.tmp" "$kdir"
  rm -rf "$cache/deb"
  vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
fi
kver=${vmlinuz##*/vmlinuz-}
moddir="$kdir/lib/modules/$kver/kernel"

# ---- the initramfs ----
root=$(mktemp -d "$cache/root.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,proc,sys,dev,tmp,modules}
cp "$busybox_bin" "$root/bin/busybox"

# Kernel TLS and the crypto it needs, in dependency order (modules.dep is not in the package:
# depmod makes it at install time). Without gcm/ghash the kernel has no gcm(aes) and kTLS
# refuses AES-GCM; ChaCha20-Poly1305 needs the generic chacha20 and poly1305 and the template.
modules=(crypto/gf128mul crypto/ghash-generic crypto/ctr crypto/gcm crypto/cryptd
         crypto/crypto_simd lib/crypto/libchacha crypto/chacha_generic lib/crypto/libpoly1305
         crypto/poly1305_generic crypto/chacha20poly1305 net/tls/tls)
if [ "$accel" = 1 ]; then
  if ls "$moddir"/arch/x86/crypto/aesni-intel.ko* >/dev/null 2>&1; then
    modules=("${modules[@]:0:6}" arch/x86/crypto/aesni-intel arch/x86/crypto/ghash-clmulni-intel
             "${modules[@]:6}")
  else
    echo "vm-run: -a: no arch/x86/crypto in $kdir (unpacked before -a): remove it to fetch again"
  fi
fi
: >"$root/modules/order"
for m in "${modules[@]}"; do
  f="$moddir/$m.ko"
  [ -f "$f" ] || f=$(ls "$moddir/$m".ko.* 2>/dev/null | head -1 || true)
  [ -n "$f" ] && [ -f "$f" ] || { echo "vm-run: module $m missing in $kver"; exit 77; }
  case "$f" in
    *.xz) xz -dc "$f" >"$root/modules/${m##*/}.ko" ;;
    *.zst) zstd -qdc "$f" >"$root/modules/${m##*/}.ko" ;;
    *) cp "$f" "$root/modules/" ;;
  esac
  echo "${m##*/}" >>"$root/modules/order"
done

copy_with_path() {  # copies $1 to the same absolute path under the root
  mkdir -p "$root$(dirname "$1")"
  cp -L "$1" "$root$1"
}
for b in "${bins[@]}"; do
  cp -L "$b" "$root/bin/"
  ldd "$b" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
    [ -e "$root$lib" ] || copy_with_path "$lib"
  done
done
for spec in "${files[@]}"; do
  src=${spec%%=*}
  dest=${spec#*=}
  mkdir -p "$root$(dirname "/$dest")"
  cp -L "$src" "$root/$dest"
done
printf '%s\n' "$command" >"$root/command"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
for m in $(cat /modules/order); do
  insmod "/modules/$m.ko" || echo "vm: insmod $m failed"
done
ip link set lo up
cd /tmp
echo "@@vm-start@@"
sh /command
echo "@@vm-exit $?@@"
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$root.cpio.gz"
trap 'rm -rf "$root" "$root.cpio.gz"' EXIT

# ---- boot ----
# TCG: -accel kvm hung on these machines. panic=-1 and -no-reboot turn a crash into an exit.
log="$root.log"
trap 'rm -rf "$root" "$root.cpio.gz" "$log"' EXIT
start=$(date +%s)
set +e
timeout "$limit" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp 1 -nographic -no-reboot \
  -monitor none -kernel "$vmlinuz" -initrd "$root.cpio.gz" \
  -append "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init" </dev/null >"$log" 2>&1
qrc=$?
set -e
tr -d '\r' <"$log" | sed -n '/@@vm-start@@/,/@@vm-exit/p' | grep -v '@@vm-' || true
echo "vm-run: kernel $kver, $(($(date +%s) - start)) s"
rc=$(tr -d '\r' <"$log" | sed -n 's/^@@vm-exit \([0-9]*\)@@$/\1/p' | tail -1)
if [ -z "$rc" ]; then
  echo "vm-run: no exit status from the VM (qemu exit $qrc); its console:"
  tr -d '\r' <"$log" | tail -40
  [ "$qrc" -eq 124 ] && exit 124
  exit 1
fi
exit "$rc"
