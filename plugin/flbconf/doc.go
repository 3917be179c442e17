// Package flbconf reads fluent-bit's own configuration: classic-format files (following
// fluent-bit's reader, src/config_format/flb_cf_fluentbit.c, as far as a parser can without the
// binary) and fluent-bit's command line.
//
// The plugin needs it because fluent-bit hands a Go output plugin only the values of the keys
// it asks for: a misspelt key ("Exlude") reaches nobody and the setting silently keeps its
// default. At Init the plugin reads the files fluent-bit was started with and looks at its own
// sections' keys (config.CheckStartupKeys). The deployment tests read conf/ with it too.
package flbconf
