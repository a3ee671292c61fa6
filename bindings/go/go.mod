module h2client.example/h2client

go 1.19
