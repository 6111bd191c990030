# shellcheck shell=bash disable=SC2034
# The build targets: Go settings, the Debian cross compiler for cgo, and how
# to run the result on this (amd64) machine. Sourced by the other scripts.

# TARGETS lists every target, in build order.
TARGETS="amd64 arm64 armv7 armv6 mipsle"

# target_env TARGET sets, for TARGET:
#   GOARCH GOARM GOMIPS     Go's settings
#   CC CC_PACKAGE LIBC_PACKAGE  the C cross compiler and its Debian packages
#   EXTRA_CFLAGS            target-specific C flags
#   STATIC_PIE              yes when glibc supports static PIE there
#   RUN                     command prefix that runs the binary here
#   DEB_ARCH DEB_SUFFIX     the .deb architecture and file name suffix
target_env() {
	GOARM="" GOMIPS="" EXTRA_CFLAGS="" STATIC_PIE=no DEB_ARCH="" DEB_SUFFIX=""
	case $1 in
	amd64)
		GOARCH=amd64 CC=x86_64-linux-gnu-gcc CC_PACKAGE=gcc LIBC_PACKAGE=libc6-dev
		EXTRA_CFLAGS="-fstack-clash-protection -fcf-protection"
		STATIC_PIE=yes RUN="" DEB_ARCH=amd64 DEB_SUFFIX=amd64
		;;
	arm64)
		GOARCH=arm64 CC=aarch64-linux-gnu-gcc CC_PACKAGE=gcc-aarch64-linux-gnu LIBC_PACKAGE=libc6-dev-arm64-cross
		EXTRA_CFLAGS="-fstack-clash-protection"
		STATIC_PIE=yes RUN="qemu-aarch64-static" DEB_ARCH=arm64 DEB_SUFFIX=arm64
		;;
	armv7)
		# Raspberry Pi 2, 3, 4, 5 with a 32-bit OS.
		GOARCH=arm GOARM=7 CC=arm-linux-gnueabihf-gcc CC_PACKAGE=gcc-arm-linux-gnueabihf LIBC_PACKAGE=libc6-dev-armhf-cross
		RUN="qemu-arm-static -cpu cortex-a7" DEB_ARCH=armhf DEB_SUFFIX=armhf
		;;
	armv6)
		# Raspberry Pi 1 and Zero (ARM1176JZF-S). Debian's armhf compiler
		# and libc are ARMv7 (Thumb-2) code that dies with SIGILL there, so
		# this uses the armel (ARMv5TE, soft-float ABI) compiler and C
		# library, statically linked: the ABI does not matter to a static
		# binary, and -mfloat-abi=softfp still uses the VFP unit inside C.
		GOARCH=arm GOARM=6 CC=arm-linux-gnueabi-gcc CC_PACKAGE=gcc-arm-linux-gnueabi LIBC_PACKAGE=libc6-dev-armel-cross
		EXTRA_CFLAGS="-march=armv6kz+fp -mtune=arm1176jzf-s -mfloat-abi=softfp -marm"
		RUN="qemu-arm-static -cpu arm1176" DEB_ARCH=armhf DEB_SUFFIX=armhf-v6
		;;
	mipsle)
		# OpenWrt on little-endian MIPS32r2 routers (mipsel_24kc: ramips
		# MT7621, MT76x8). Hard-float: see README, "FPU".
		GOARCH=mipsle GOMIPS=hardfloat CC=mipsel-linux-gnu-gcc CC_PACKAGE=gcc-mipsel-linux-gnu LIBC_PACKAGE=libc6-dev-mipsel-cross
		RUN="qemu-mipsel-static -cpu 24Kf"
		;;
	*)
		echo "unknown target $1 (want one of: $TARGETS)" >&2
		return 1
		;;
	esac
}
