package localcluster

import "syscall"

// sysProcAttr makes the kernel kill a component when the process that started
// it dies, so a crashed or killed test run leaves no control plane behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
