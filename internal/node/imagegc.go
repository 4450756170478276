package node

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"

	"github.com/batchd/batchd/internal/image"
)

// imageGCPeriod is the kubelet's ImageGCPeriod.
const imageGCPeriod = 5 * time.Minute

// ReasonFreeDiskSpaceFailed is the kubelet's node event when unused images
// cannot free enough space.
const ReasonFreeDiskSpaceFailed = "FreeDiskSpaceFailed"

// imageUsed records that a container was started from ref.
func (a *Agent) imageUsed(ref string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.imageSeen[ref]; !ok {
		a.imageSeen[ref] = now
	}
	a.imageLastUsed[ref] = now
}

// collectImagesEvery collects unused images every imageGCPeriod and when
// a pull asks for it.
func (a *Agent) collectImagesEvery(ctx context.Context) {
	if a.cfg.Images == nil {
		return
	}
	for {
		a.collectImages(ctx)
		select {
		case <-ctx.Done():
			return
		case <-a.cfg.Clock.After(imageGCPeriod):
		case <-a.pulled:
		}
	}
}

// collectImages removes unused images, least recently used first, while the
// image file system is over the high threshold, as the kubelet's image
// garbage collector does. An image is in use while a pod on the node names
// it; images are first seen when this agent first lists them.
func (a *Agent) collectImages(ctx context.Context) {
	log := klog.FromContext(ctx)
	disk, err := a.cfg.Images.Disk()
	if err != nil {
		log.Error(err, "image garbage collection: stat the image file system")
		return
	}
	inUse := map[string]bool{}
	pods, _ := a.pods.List(labels.Everything())
	for _, p := range pods {
		for _, c := range allContainers(&p.Spec) {
			if ref, err := image.Normalize(c.Image); err == nil {
				inUse[ref.Name()] = true
			}
		}
	}
	now := a.cfg.Clock.Now()
	usage := func(img image.Image) image.GCImage {
		a.mu.Lock()
		defer a.mu.Unlock()
		if _, ok := a.imageSeen[img.Ref]; !ok {
			a.imageSeen[img.Ref] = now
		}
		return image.GCImage{InUse: inUse[img.Ref], FirstSeen: a.imageSeen[img.Ref], LastUsed: a.imageLastUsed[img.Ref]}
	}
	plan, err := a.cfg.Images.Collect(a.cfg.ImageGC, disk, usage, now)
	if plan.AmountToFree > 0 {
		log.Info("Disk usage on image filesystem is over the high threshold, trying to free bytes down to the low threshold",
			"usage", plan.UsagePercent, "highThreshold", a.cfg.ImageGC.HighPercent, "amountToFree", plan.AmountToFree, "lowThreshold", a.cfg.ImageGC.LowPercent)
		for _, ref := range plan.Remove {
			log.Info("Removing image to free bytes", "image", ref)
		}
	}
	if err != nil {
		log.Error(err, "image garbage collection")
		return
	}
	if plan.Short {
		a.nodeEventType(corev1.EventTypeWarning, ReasonFreeDiskSpaceFailed, plan.Message())
	}
	a.mu.Lock()
	for _, ref := range plan.Remove {
		delete(a.imageSeen, ref)
		delete(a.imageLastUsed, ref)
	}
	a.mu.Unlock()
}
