module h2client/interop_go

go 1.19
