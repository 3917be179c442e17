// Command out_auditd_cloud_logging is the fluent-bit output plugin, built with
// `go build -buildmode=c-shared` into out_auditd_cloud_logging.so.
//
// This file only exports the fluent-bit Go plugin ABI and adapts it to plugin/output, where
// the logic lives. Every export recovers panics (a Go panic in a callback would take fluent-bit
// down) and answers ERROR, or RETRY for a flush so the chunk is kept.
package main

import "C"

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"sync"
	"time"
	"unsafe"

	flb "github.com/fluent/fluent-bit-go/output"

	"github.com/gke-audit/auditd-cloud-logging/plugin/config"
	"github.com/gke-audit/auditd-cloud-logging/plugin/delivery"
	"github.com/gke-audit/auditd-cloud-logging/plugin/output"
)

const (
	description = "Linux audit events to Google Cloud Logging"
	// resolveTimeout bounds the metadata lookups in Init (off GCP they fail, never hang).
	resolveTimeout = 5 * time.Second
	// exitTimeout bounds ExitCtx: fluent-bit does not interrupt an exit callback, so an
	// unreachable endpoint must not hold its shutdown (and the pod's termination grace period)
	// hostage. fluent-bit calls ExitCtx after its own Grace; keep Grace + this under the pod's
	// terminationGracePeriodSeconds.
	exitTimeout = 10 * time.Second
)

// instances maps the id handed to fluent-bit as the instance context to its state. fluent-bit
// keeps the context in C memory, where a Go pointer must not live; fluent-bit-go stores our
// value (the id) behind a C pointer of its own.
var (
	mu        sync.Mutex
	instances = map[int]*instance{}
	nextID    int
)

type instance struct {
	id   int
	name string
	out  *output.Instance
}

// debugLogs turns on debug lines. fluent-bit's own log_level is a reserved key a Go plugin
// cannot read, so the environment decides: AUDITD_CLOUD_LOGGING_DEBUG=1.
var debugLogs = os.Getenv("AUDITD_CLOUD_LOGGING_DEBUG") == "1"

// logf writes a line in fluent-bit's log format to stderr (where fluent-bit logs).
func logf(name, level, msg string) {
	if level == output.LevelDebug && !debugLogs {
		return
	}
	fmt.Fprintf(os.Stderr, "[%s] [%5s] [output:%s:%s] %s\n",
		time.Now().Format("2006/01/02 15:04:05"), level, config.PluginName, name, msg)
}

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) (ret C.int) {
	defer func() {
		if r := recover(); r != nil {
			logf(config.PluginName, output.LevelError, fmt.Sprintf("panic in register: %v\n%s", r, debug.Stack()))
			ret = -1
		}
	}()
	return C.int(flb.FLBPluginRegister(def, config.PluginName, description))
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) (ret C.int) {
	mu.Lock()
	id := nextID
	nextID++
	mu.Unlock()
	name := fmt.Sprintf("%s.%d", config.PluginName, id)
	defer func() {
		if r := recover(); r != nil {
			logf(name, output.LevelError, fmt.Sprintf("panic in init: %v\n%s", r, debug.Stack()))
			ret = flb.FLB_ERROR
		}
	}()

	// Properties are readable only now: the next instance's Init replaces o_ins.
	props := config.MapGetter{}
	for _, k := range config.Keys {
		if v := flb.FLBPluginConfigKey(plugin, k); v != "" {
			props[k] = v
		}
	}
	if err := checkKeys(name); err != nil {
		logf(name, output.LevelError, "configuration: "+err.Error())
		return flb.FLB_ERROR
	}
	cfg, err := config.Parse(props)
	if err != nil {
		logf(name, output.LevelError, "configuration: "+err.Error())
		return flb.FLB_ERROR
	}
	ctx, cancel := context.WithTimeout(context.Background(), resolveTimeout)
	defer cancel()
	if err := cfg.Resolve(ctx, os.Getenv); err != nil {
		logf(name, output.LevelError, err.Error())
		return flb.FLB_ERROR
	}
	var w delivery.Writer
	if cfg.DryRun {
		w = delivery.NewDryRunWriter(os.Stdout, cfg)
	} else if w, err = delivery.NewCloudWriter(ctx, cfg); err != nil {
		logf(name, output.LevelError, err.Error())
		return flb.FLB_ERROR
	}
	out, err := output.New(cfg, w, func(level, msg string) { logf(name, level, msg) }, output.WithName(name))
	if err != nil {
		_ = w.Close()
		logf(name, output.LevelError, err.Error())
		return flb.FLB_ERROR
	}
	mu.Lock()
	instances[id] = &instance{id: id, name: name, out: out}
	mu.Unlock()
	flb.FLBPluginSetContext(plugin, id)
	dest := cfg.LogPath()
	if cfg.DryRun {
		dest = "stdout (Dry_Run)"
	}
	logf(name, output.LevelInfo, fmt.Sprintf("writing to %s, resource %s", dest, cfg.Resource))
	return flb.FLB_OK
}

// checkKeys looks for the keys fluent-bit would pass on without a word, in the configuration it
// was started with (config.CheckProcess): a misspelt plugin key fails Init. Every Init checks (a
// hot reload brings a new configuration); only the first instance of a configuration logs what
// was found, so two instances do not say it twice.
func checkKeys(name string) error {
	cmdline, err := os.ReadFile("/proc/self/cmdline")
	mu.Lock()
	first := len(instances) == 0
	mu.Unlock()
	if err != nil {
		if first {
			logf(name, output.LevelInfo, "configuration keys not checked: "+err.Error())
		}
		return nil
	}
	// The working directory is fluent-bit's: the paths on its command line are read as given.
	sc := config.CheckProcess(cmdline, "", os.Getenv)
	if first {
		logf(name, output.LevelInfo, sc.Info)
		for _, w := range sc.Warnings {
			logf(name, output.LevelWarn, w)
		}
	}
	return sc.Err
}

func lookup(ctx unsafe.Pointer) *instance {
	id, ok := flb.FLBPluginGetContext(ctx).(int)
	if !ok {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	return instances[id]
}

// FLBPluginFlush is the context-less callback of old fluent-bit versions; fluent-bit prefers
// FlushCtx when it exists, so this only runs on hosts without it. With one instance it is
// unambiguous; otherwise the chunk is left to fluent-bit.
//
//export FLBPluginFlush
func FLBPluginFlush(data unsafe.Pointer, length C.size_t, tag *C.char) (ret C.int) {
	mu.Lock()
	var only *instance
	if len(instances) == 1 {
		for _, in := range instances {
			only = in
		}
	}
	mu.Unlock()
	if only == nil {
		logf(config.PluginName, output.LevelError, "flush without an instance context and not exactly one instance: RETRY")
		return flb.FLB_RETRY
	}
	return flush(only, data, length, tag)
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.size_t, tag *C.char) (ret C.int) {
	in := lookup(ctx)
	if in == nil {
		logf(config.PluginName, output.LevelError, "flush for an unknown instance context: RETRY")
		return flb.FLB_RETRY
	}
	return flush(in, data, length, tag)
}

func flush(in *instance, data unsafe.Pointer, length C.size_t, tag *C.char) (ret C.int) {
	defer func() {
		if r := recover(); r != nil {
			logf(in.name, output.LevelError, fmt.Sprintf("panic in flush (chunk kept: RETRY): %v\n%s", r, debug.Stack()))
			ret = flb.FLB_RETRY
		}
	}()
	if uint64(length) > math.MaxInt32 { // fluent-bit chunks are ~2 MB
		logf(in.name, output.LevelError, fmt.Sprintf("chunk of %d bytes is larger than 2 GiB: dropped (ERROR)", uint64(length)))
		return flb.FLB_ERROR
	}
	// The chunk is read in place, without a copy: fluent-bit frees data when this returns,
	// and Flush keeps nothing that points into it (parsed records copy what they keep;
	// TestFlushKeepsNoChunkBytes overwrites each chunk after its Flush). A copy was a
	// chunk-sized allocation per flush, more garbage than everything the plugin keeps.
	var buf []byte
	if length > 0 {
		if data == nil {
			logf(in.name, output.LevelError, fmt.Sprintf("chunk of %d bytes at a nil address: dropped (ERROR)", uint64(length)))
			return flb.FLB_ERROR
		}
		buf = unsafe.Slice((*byte)(data), int(length))
	}
	switch in.out.Flush(buf, C.GoString(tag)) {
	case delivery.OK:
		return flb.FLB_OK
	case delivery.Retry:
		return flb.FLB_RETRY
	}
	return flb.FLB_ERROR
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) (ret C.int) {
	in := lookup(ctx)
	if in == nil {
		logf(config.PluginName, output.LevelWarn, "exit for an unknown instance context")
		return flb.FLB_OK
	}
	return closeInstance(in)
}

func closeInstance(in *instance) (ret C.int) {
	defer func() {
		if r := recover(); r != nil {
			logf(in.name, output.LevelError, fmt.Sprintf("panic in exit: %v\n%s", r, debug.Stack()))
			ret = flb.FLB_ERROR
		}
	}()
	mu.Lock()
	delete(instances, in.id)
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
	defer cancel()
	in.out.Close(ctx)
	return flb.FLB_OK
}

// FLBPluginExit is called by hosts without ExitCtx support: close every instance.
//
//export FLBPluginExit
func FLBPluginExit() (ret C.int) {
	mu.Lock()
	var all []*instance
	for _, in := range instances {
		all = append(all, in)
	}
	mu.Unlock()
	ret = flb.FLB_OK
	for _, in := range all {
		if closeInstance(in) != flb.FLB_OK {
			ret = flb.FLB_ERROR
		}
	}
	return ret
}

//export FLBPluginUnregister
func FLBPluginUnregister(def unsafe.Pointer) {
	defer func() {
		if r := recover(); r != nil {
			logf(config.PluginName, output.LevelError, fmt.Sprintf("panic in unregister: %v", r))
		}
	}()
	flb.FLBPluginUnregister(def)
}

func main() {}
