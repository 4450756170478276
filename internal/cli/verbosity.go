package cli

import (
	"flag"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"
)

// addVerbosityFlags gives a long-running command kube-apiserver's and the
// kubelet's verbosity flags: -v/--v (klog's level: 2 shows what the
// components log for an operator, such as clients that hung up mid-response;
// 4 and up, debugging detail) and --vmodule (a level per source file).
func addVerbosityFlags(fs *pflag.FlagSet) {
	gofs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(gofs)
	v := pflag.PFlagFromGoFlag(gofs.Lookup("v"))
	v.Shorthand = "v"
	fs.AddFlag(v)
	fs.AddFlag(pflag.PFlagFromGoFlag(gofs.Lookup("vmodule")))
}
