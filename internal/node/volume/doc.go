// Package volume holds what makes a pod's volumes safe to hand to a
// container whose files the node agent (root) later touches again:
//
//   - subPath and subPathExpr are checked as the kubelet checks them
//     (CheckSubPath, pure) and resolved without following any symlink the
//     pod made out of the volume: the path is opened component by component
//     with O_NOFOLLOW and the open file is bind-mounted at a staging path
//     the pod cannot reach (PrepareSubPath), as pkg/volume/util/subpath does;
//   - secret, configMap, downwardAPI and projected contents are written the
//     kubelet's AtomicWriter way (WriteAtomic): into a fresh directory,
//     published by renaming a `..data` symlink over the old one, the names
//     the pod sees being symlinks into `..data`; nothing is ever written
//     through a path the container could have replaced.
package volume
