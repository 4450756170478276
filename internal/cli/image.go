package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/batchd/batchd/internal/image"
	"github.com/batchd/batchd/internal/server"
)

// ImageDir is where a data dir keeps its images.
func ImageDir(dataDir string) string { return filepath.Join(dataDir, "images") }

func (c *CLI) imageCommand() *cobra.Command {
	dataDir := server.DefaultDataDir()
	open := func() (*image.Store, error) { return image.Open(ImageDir(dataDir)) }
	// stored opens the store only if it exists: reading it (ls, rm) must
	// not create a data dir.
	stored := func() (*image.Store, error) {
		if _, err := os.Stat(filepath.Join(ImageDir(dataDir), "layout")); os.IsNotExist(err) {
			return nil, nil
		}
		return open()
	}
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage the images of this machine's pods (pull, import, ls, rm)",
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", dataDir, "Data directory whose images to manage.")
	pull := &cobra.Command{
		Use:   "pull IMAGE",
		Short: "Pull an image from its registry (credentials from ~/.docker/config.json)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			img, err := s.Pull(cmd.Context(), args[0], nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.Out, "Image is up to date for %s\n", img.ID)
			return nil
		},
	}
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Import the images of a `docker save` tar or an OCI image layout directory",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := open()
			if err != nil {
				return err
			}
			imgs, err := s.Import(args[0])
			for _, img := range imgs {
				repo, tag := image.ShortRef(img.Ref)
				fmt.Fprintf(c.Out, "Loaded image: %s:%s\n", repo, tag)
			}
			return err
		},
	}
	ls := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the stored images",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := stored()
			if err != nil {
				return err
			}
			var imgs []image.Image
			if s != nil {
				if imgs, err = s.List(); err != nil {
					return err
				}
			}
			w := tabwriter.NewWriter(c.Out, 0, 8, 3, ' ', 0)
			fmt.Fprintln(w, "IMAGE\tTAG\tIMAGE ID\tSIZE")
			for _, img := range imgs {
				repo, tag := image.ShortRef(img.Ref)
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", repo, tag, img.ID.Hex[:13], humanSize(img.Size))
			}
			return w.Flush()
		},
	}
	rm := &cobra.Command{
		Use:     "rm IMAGE...",
		Aliases: []string{"remove"},
		Short:   "Remove images (and the layers no other image uses)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := stored()
			if err != nil {
				return err
			}
			for _, a := range args {
				if s == nil {
					if _, err := image.Normalize(a); err != nil {
						return err
					}
					return fmt.Errorf("image %q not found", a)
				}
				if err := s.Remove(a); err != nil {
					return err
				}
				fmt.Fprintf(c.Out, "Deleted: %s\n", a)
			}
			return nil
		},
	}
	cmd.AddCommand(pull, imp, ls, rm)
	return cmd
}

// humanSize prints bytes as crictl does (e.g. 2.05MB).
func humanSize(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.3gGB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3gMB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.3gkB", float64(n)/1e3)
	}
	return fmt.Sprintf("%dB", n)
}
