module github.com/np-portable/np

go 1.26.0

require (
	github.com/creack/pty v1.1.24
	github.com/klauspost/compress v1.20.4
	github.com/sirupsen/logrus v1.10.2
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
)
