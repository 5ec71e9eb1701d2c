package wasmhost

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Defaults applied by Load to zero fields of ModuleConfig. They match the
// manifest's defaults.
const (
	DefaultMemoryLimit = 32 << 20
	DefaultTimeout     = 5 * time.Second
	DefaultConcurrency = 1
)

// TopicEnv is the environment variable through which a command module learns
// the topic of the message on its stdin.
const TopicEnv = "HYBRIDD_TOPIC"

// ModuleConfig configures one loaded module, usually one workload.
type ModuleConfig struct {
	// Name identifies the module in errors and logs and is the guest's
	// args[0]. Required.
	Name string

	// Env is the guest's whole environment. A command module also gets
	// HYBRIDD_TOPIC, so Env must not set it.
	Env map[string]string

	// MemoryLimit caps the linear memory of each instance, in bytes, rounded
	// down to whole 64 KiB pages. A module whose declared minimum is larger
	// is rejected. Default DefaultMemoryLimit; at most 4 GiB is used.
	MemoryLimit int64

	// Timeout bounds one call, including instantiation for command modules.
	// Default DefaultTimeout.
	Timeout time.Duration

	// Concurrency is the number of calls that may run at once. For a reactor
	// it is also the number of warm instances. Default DefaultConcurrency.
	Concurrency int

	// Log receives the guest's stderr and its hybridd.log messages. Writes
	// from concurrent calls are serialized. Nil discards them.
	Log io.Writer

	// AllowPublish reports whether the guest may publish to a topic,
	// including the empty topic, which stands for the workload's output
	// topic. Nil allows only the empty topic.
	AllowPublish func(topic string) bool
}

// withDefaults validates cfg and fills in its zero fields.
func (cfg ModuleConfig) withDefaults() (ModuleConfig, error) {
	if cfg.Name == "" {
		return cfg, errors.New("module name is empty: set ModuleConfig.Name to the workload name")
	}
	if cfg.MemoryLimit < 0 {
		return cfg, fmt.Errorf("memory limit %d bytes is negative: set a positive limit, e.g. 32 MiB", cfg.MemoryLimit)
	}
	if cfg.Timeout < 0 {
		return cfg, fmt.Errorf("timeout %s is negative: set a positive duration, e.g. 250ms", cfg.Timeout)
	}
	if cfg.Concurrency < 0 {
		return cfg, fmt.Errorf("concurrency %d is negative: set 1 or more", cfg.Concurrency)
	}
	for key, value := range cfg.Env {
		if err := checkEnv(key, value); err != nil {
			return cfg, err
		}
	}

	if cfg.MemoryLimit == 0 {
		cfg.MemoryLimit = DefaultMemoryLimit
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.AllowPublish == nil {
		cfg.AllowPublish = func(topic string) bool { return topic == "" }
	}
	return cfg, nil
}

func checkEnv(key, value string) error {
	switch {
	case key == "":
		return errors.New("environment variable with an empty name: remove it or give it a name")
	case strings.ContainsAny(key, "=\x00"):
		return fmt.Errorf("environment variable name %q contains '=' or NUL: rename it", key)
	case strings.ContainsRune(value, 0):
		return fmt.Errorf("environment variable %s contains a NUL byte: remove it", key)
	case key == TopicEnv:
		return fmt.Errorf("environment variable %s is set by the host for each message: remove it from the environment", TopicEnv)
	}
	return nil
}

// memoryLimitPages converts a byte limit to whole pages, at most 4 GiB.
func memoryLimitPages(limit int64) (uint32, error) {
	pages := limit / wasmPageSize
	if pages < 1 {
		return 0, fmt.Errorf("memory limit %d bytes is below one 64 KiB WebAssembly page: set at least 64Ki", limit)
	}
	return uint32(min(pages, maxMemoryPages)), nil
}
