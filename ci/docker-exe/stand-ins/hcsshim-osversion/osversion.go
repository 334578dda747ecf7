// Package osversion stands in for github.com/Microsoft/hcsshim/osversion (not packaged in
// Debian 12) in dockvm's test build of the Windows docker CLI (ci/docker-exe/build): the
// running Windows version through RtlGetVersion, and the build numbers docker/docker compares
// it with.
package osversion

import (
	"fmt"
	"sync"

	"golang.org/x/sys/windows"
)

// OSVersion is the running Windows version.
type OSVersion struct {
	Version      uint32
	MajorVersion uint8
	MinorVersion uint8
	Build        uint16
}

var (
	once    sync.Once
	running OSVersion
)

// Get asks Windows (RtlGetVersion, which no manifest can make lie) once.
func Get() OSVersion {
	once.Do(func() {
		v := windows.RtlGetVersion()
		running = OSVersion{
			Version:      v.MajorVersion | v.MinorVersion<<8 | v.BuildNumber<<16,
			MajorVersion: uint8(v.MajorVersion),
			MinorVersion: uint8(v.MinorVersion),
			Build:        uint16(v.BuildNumber),
		}
	})
	return running
}

// Build is the running build number.
func Build() uint16 { return Get().Build }

// ToString is "major.minor.build".
func (v OSVersion) ToString() string {
	return fmt.Sprintf("%d.%d.%d", v.MajorVersion, v.MinorVersion, v.Build)
}

// Windows 10 and Server build numbers.
const (
	RS1   = 14393
	RS2   = 15063
	RS3   = 16299
	RS4   = 17134
	RS5   = 17763
	V19H1 = 18362
	V19H2 = 18363
	V20H1 = 19041
	V20H2 = 19042
)
