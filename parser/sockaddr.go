package parser

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"
)

// Socket address families the kernel logs in SOCKADDR saddr= (struct sockaddr, host byte
// order for sa_family; every architecture GKE runs is little-endian).
const (
	afLocal   = 1
	afInet    = 2
	afInet6   = 10
	afNetlink = 16
)

// DecodeSockAddr decodes a SOCKADDR saddr= hex value. inet and inet6 give the address and
// port; local (unix) gives the path, "@name" for abstract sockets (NUL bytes inside an
// abstract name, and any non-UTF-8 byte, are escaped as in Field.Value) and "" for unnamed
// ones; netlink gives the port id (nl_pid) as Addr. Other families, and values too short or
// not hex, have Family set to the family number (or "" if even that is unreadable) and Raw
// set to the hex.
func DecodeSockAddr(hex string) SockAddr {
	b, ok := DecodeHex(hex)
	if !ok {
		// Tolerate lower-case hex: saddr is never text.
		if len(hex)%2 != 0 || !isXDigits(hex) {
			return SockAddr{Raw: hex}
		}
		b = decodeHexInto(make([]byte, 0, len(hex)/2), hex)
	}
	if len(b) < 2 {
		return SockAddr{Raw: hex}
	}
	fam := binary.LittleEndian.Uint16(b)
	switch fam {
	case afInet:
		if len(b) >= 8 {
			a := netip.AddrFrom4([4]byte(b[4:8]))
			return SockAddr{Family: "inet", Addr: a.String(), Port: int(binary.BigEndian.Uint16(b[2:4]))}
		}
	case afInet6:
		if len(b) >= 24 {
			a := netip.AddrFrom16([16]byte(b[8:24]))
			if len(b) >= 28 {
				if scope := binary.LittleEndian.Uint32(b[24:28]); scope != 0 {
					a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
				}
			}
			return SockAddr{Family: "inet6", Addr: a.String(), Port: int(binary.BigEndian.Uint16(b[2:4]))}
		}
	case afLocal:
		path := b[2:]
		if len(path) == 0 {
			return SockAddr{Family: "local"}
		}
		if path[0] == 0 {
			// Abstract: the name is length-delimited and may hold NULs.
			return SockAddr{Family: "local", Addr: "@" + escapeNULs(Escape(path[1:]))}
		}
		if i := indexByte(path, 0); i >= 0 {
			path = path[:i]
		}
		return SockAddr{Family: "local", Addr: Escape(path)}
	case afNetlink:
		if len(b) >= 12 {
			return SockAddr{Family: "netlink", Addr: strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[4:8])), 10)}
		}
	}
	return SockAddr{Family: strconv.Itoa(int(fam)), Raw: hex}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// escapeNULs writes NUL bytes of an abstract socket name as \x00 so that the name reads
// unambiguously. The result stays in escaped form only when it already was, or when it
// contains a NUL (then every backslash is written \x5c first).
func escapeNULs(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	if !looksEscaped(s) {
		s = strings.ReplaceAll(s, `\`, `\x5c`)
	}
	return strings.ReplaceAll(s, "\x00", `\x00`)
}

// interpretSockaddr is auparse's print_sockaddr (interpret.c): ausearch -i's text for saddr=.
func interpretSockaddr(val string) string {
	if len(val) < 2 || !isXDigits(val[:len(val)&^1]) {
		return "malformed-host(" + val + ")"
	}
	b := decodeHexInto(make([]byte, 0, len(val)/2), val[:len(val)&^1])
	if len(b) < 2 {
		return "malformed-host(" + val + ")"
	}
	fam := int(binary.LittleEndian.Uint16(b))
	name := ""
	if fam < len(familyNames) {
		name = familyNames[fam]
	}
	if name == "" {
		return "unknown-family(" + strconv.Itoa(fam) + ")"
	}
	switch fam {
	case afLocal:
		if len(b) < 4 {
			return "{ saddr_fam=" + name + " sockaddr len too short }"
		}
		p := b[2:]
		if p[0] == 0 {
			p = p[1:]
		}
		if i := indexByte(p, 0); i >= 0 {
			p = p[:i]
		}
		if len(p) > 108 {
			p = p[:108]
		}
		return "{ saddr_fam=" + name + " path=" + Escape(p) + " }"
	case afInet:
		if len(b) < 16 {
			return "{ saddr_fam=" + name + " sockaddr len too short }"
		}
		a := netip.AddrFrom4([4]byte(b[4:8]))
		return "{ saddr_fam=" + name + " laddr=" + a.String() + " lport=" + strconv.Itoa(int(binary.BigEndian.Uint16(b[2:4]))) + " }"
	case afInet6:
		if len(b) < 28 {
			return "{ saddr_fam=" + name + " sockaddr6 len too short }"
		}
		a := netip.AddrFrom16([16]byte(b[8:24]))
		if scope := binary.LittleEndian.Uint32(b[24:28]); scope != 0 && a.IsLinkLocalUnicast() {
			// getnameinfo prints the interface name, which only the node knows.
			a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
		}
		return "{ saddr_fam=" + name + " laddr=" + a.String() + " lport=" + strconv.Itoa(int(binary.BigEndian.Uint16(b[2:4]))) + " }"
	case afNetlink:
		if len(b) < 12 {
			return "{ saddr_fam=" + name + " len too short }"
		}
		return "{ saddr_fam=" + name + " nlnk-fam=" + strconv.Itoa(fam) + " nlnk-pid=" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[4:8])), 10) + " }"
	}
	return "{ saddr_fam=" + name + " (unsupported) }"
}
