# frozen_string_literal: true

require "test_helper"
require "tinyproxy"
require "h2client/faraday"
require "openssl"

# The Faraday adapter (Debian's ruby-faraday, 1.x) with Faraday's own request shapes against
# h2testserver: params, bodies (raw, url_encoded, multipart), headers, the other methods, a
# 404 with and without raise_error, timeouts, https with a CA (and the failures), streaming
# with on_data, a proxy, connection reuse across threads, close.
class FaradayTest < Minitest::Test
  include H2TestHelpers

  def conn(base = url, **opts, &block)
    c = Faraday.new(base, **opts) do |f|
      block&.call(f)
      f.adapter :h2client
    end
    (@conns ||= []) << c
    c
  end

  def teardown
    (@conns || []).each(&:close)
    super
  end

  # The adapter instance behind a connection (Faraday builds it once per connection).
  def adapter_of(connection)
    app = connection.builder.app
    app = app.instance_variable_get(:@app) until app.is_a?(H2Client::FaradayAdapter)
    app
  end

  def clients_of(connection)
    adapter_of(connection).instance_variable_get(:@clients)
  end

  def test_registered_as_h2client
    assert_equal H2Client::FaradayAdapter, Faraday::Adapter.lookup_middleware(:h2client)
    assert_operator H2Client::FaradayAdapter, :<, Faraday::Adapter
  end

  def test_get_with_params_and_headers
    c = conn(headers: { "X-Default" => "d" })
    res = c.get("/echo", { q: "a b", page: 2, tags: %w[x y] }, { "X-Trace" => "t1" })
    assert_equal 200, res.status
    assert res.success?
    path = res.headers["x-echo-path"]
    assert_equal "/echo", path[/\A[^?]*/]
    assert_equal({ "page" => ["2"], "q" => ["a b"], "tags[]" => %w[x y] },
                 URI.decode_www_form(path[/\?(.*)\z/, 1]).group_by(&:first)
                    .transform_values { |pairs| pairs.map(&:last) })
    assert_equal "t1", res.headers["X-Echo-H-X-Trace"], "response headers are case-insensitive"
    assert_equal "d", res.headers["x-echo-h-x-default"]
    assert_equal "Faraday v#{Faraday::VERSION}", res.headers["x-echo-h-user-agent"],
                 "Faraday's user-agent replaces h2client's"
    assert_equal "GET", res.headers["x-echo-method"]
    assert_equal "#{url}/echo", res.env.url.to_s[/\A[^?]*/]
    assert_nil res.reason_phrase, "HTTP/2 has no reason phrase"
    # The block form.
    res = c.get do |req|
      req.url "/echo"
      req.params["k"] = "v"
      req.headers["Accept"] = "text/plain"
    end
    assert_equal "/echo?k=v", res.headers["x-echo-path"]
    assert_equal "text/plain", res.headers["x-echo-h-accept"]
  end

  def test_post_put_patch_delete_head_bodies
    c = conn
    res = c.post("/echo", "raw bytes \x00\xff".b, "Content-Type" => "application/octet-stream")
    assert_equal "raw bytes \x00\xff".b, res.body
    assert_equal Encoding::BINARY, res.body.encoding
    assert_equal "POST", res.headers["x-echo-method"]
    assert_equal "application/octet-stream", res.headers["x-echo-h-content-type"]
    assert_equal "12", res.headers["x-echo-h-content-length"]
    res = c.put("/echo") { |req| req.body = "put body" }
    assert_equal ["PUT", "put body"], [res.headers["x-echo-method"], res.body]
    assert_equal "PATCH", c.patch("/echo", "p").headers["x-echo-method"]
    res = c.delete("/echo")
    assert_equal ["DELETE", ""], [res.headers["x-echo-method"], res.body]
    res = c.head("/bytes/10")
    assert_equal [200, "10", ""], [res.status, res.headers["content-length"], res.body]
    # A POST without a body: Faraday sends content-length 0.
    res = c.post("/echo")
    assert_equal ["0", ""], [res.headers["x-echo-h-content-length"], res.body]
  end

  def test_url_encoded_and_multipart_bodies
    c = conn do |f|
      f.request :multipart
      f.request :url_encoded
    end
    res = c.post("/echo", { name: "a b", list: [1, 2] })
    assert_equal "application/x-www-form-urlencoded", res.headers["x-echo-h-content-type"]
    assert_equal({ "name" => "a b", "list[]" => "2" }, URI.decode_www_form(res.body).to_h)
    file = Tempfile.new(["upload", ".txt"])
    file.write("file content\n" * 1000)
    file.flush
    upload = Faraday::UploadIO.new(file.path, "text/plain")
    res = c.post("/echo", { note: "hi", file: upload })
    assert_match(%r{\Amultipart/form-data; boundary=}, res.headers["x-echo-h-content-type"])
    assert_includes res.body, "file content\n" * 1000
    assert_includes res.body, "name=\"note\""
    assert_equal res.headers["x-echo-h-content-length"].to_i, res.body.bytesize
  ensure
    file&.close!
  end

  def test_404_is_a_response_unless_raise_error
    res = conn.get("/status/404")
    assert_equal 404, res.status
    refute res.success?
    assert_equal "not found\n", conn.get("/nope").body
    strict = conn { |f| f.response :raise_error }
    err = assert_raises(Faraday::ResourceNotFound) { strict.get("/status/404") }
    assert_equal 404, err.response[:status]
    assert_raises(Faraday::ServerError) { strict.get("/status/503") }
  end

  def test_timeouts
    c = conn
    t0 = monotonic
    err = assert_raises(Faraday::TimeoutError) do
      c.get("/delay/3000") { |req| req.options.timeout = 0.2 }
    end
    assert_operator monotonic - t0, :<, 2.0
    assert_instance_of H2Client::TimeoutError, err.wrapped_exception
    # read_timeout: a gap in the body.
    err = assert_raises(Faraday::TimeoutError) do
      c.get("/slow-bytes/100/10/2000") { |req| req.options.read_timeout = 0.2 }
    end
    assert_match(/DATA/, err.message)
    # The connection-wide ones pick the client: open_timeout (or timeout) its connect
    # timeout, write_timeout its write timeout.
    slow = conn(request: { open_timeout: 1.5, write_timeout: 2, timeout: 30 })
    assert_equal 200, slow.get("/delay/10").status
    assert_equal [{ connect_timeout_ms: 1500, write_timeout_ms: 2000, proxy: false }],
                 clients_of(slow).keys
    assert_raises(ArgumentError) { c.get("/") { |req| req.options.timeout = -1 } }
  end

  def test_https_with_a_ca_and_tls_failures
    tls = TestServer.tls
    c = conn(tls[:url], ssl: { ca_file: tls[:ca] })
    res = c.get("/echo")
    assert_equal [200, "https"], [res.status, res.headers["x-echo-scheme"]]
    # min/max versions.
    v13 = conn(tls[:url], ssl: { ca_file: tls[:ca], min_version: :TLS1_3 })
    assert_equal 200, v13.get("/").status
    assert_equal [:tls1_3], clients_of(v13).keys.first[:tls_versions]
    assert_raises(ArgumentError) { conn(tls[:url], ssl: { max_version: :TLS1_1 }).get("/") }
    # Not trusted: the system's CAs do not know the test CA.
    err = assert_raises(Faraday::SSLError) { conn(tls[:url]).get("/") }
    assert_instance_of H2Client::TLSError, err.wrapped_exception
    assert_equal 200, conn(tls[:url], ssl: { verify: false }).get("/").status
    assert_raises(ArgumentError) { conn(tls[:url], ssl: { ca_path: "/etc/ssl/certs" }).get("/") }
  end

  def test_client_certificate_objects
    dir = Dir.mktmpdir("h2client-ruby-faraday-mtls")
    server, _pid, lines = TestServer.start("--tls", "--tls-dir", dir, "--require-client-cert",
                                           extra_lines: 3)
    files = lines.to_h { |l| l.split(": ", 2) }
    base = "https://localhost:#{server[/:(\d+)\z/, 1]}"
    cert = OpenSSL::X509::Certificate.new(File.read(files.fetch("client certificate")))
    key = OpenSSL::PKey.read(File.read(files.fetch("client key")))
    c = conn(base, ssl: { ca_file: files.fetch("ca certificate"), client_cert: cert,
                          client_key: key })
    assert_equal 200, c.get("/").status
    err = assert_raises(Faraday::SSLError) do
      conn(base, ssl: { ca_file: files.fetch("ca certificate") }).get("/")
    end
    assert_match(/CertificateRequired/, err.message)
  ensure
    FileUtils.rm_rf(dir) if dir
  end

  def test_connection_failed
    refused = conn("http://127.0.0.1:#{free_port}")
    err = assert_raises(Faraday::ConnectionFailed) { refused.get("/") }
    assert_instance_of H2Client::ConnectError, err.wrapped_exception
    assert_match(/refused/, err.message)
    err = assert_raises(Faraday::ConnectionFailed) { conn.get("/reset/2") }
    assert_instance_of H2Client::StreamResetError, err.wrapped_exception
    # A bad header is the caller's mistake, raised as it is.
    assert_raises(H2Client::InvalidArgumentError) { conn.get("/", nil, "Connection" => "x") }
  end

  def test_streaming_with_on_data
    c = conn
    chunks = []
    sizes = []
    res = c.get("/bytes/200000") do |req|
      req.options.on_data = proc do |chunk, size|
        chunks << chunk
        sizes << size
      end
    end
    assert_equal 200, res.status
    assert_equal "", res.body
    assert_equal pattern(200_000), chunks.join
    assert_equal 200_000, sizes.last
    assert_equal chunks.map(&:bytesize).sum, sizes.last
    assert_equal sizes, sizes.sort
    # An empty body: one call with "" and 0, as Faraday's Net::HTTP adapter.
    calls = []
    c.get("/bytes/0") { |req| req.options.on_data = proc { |chunk, size| calls << [chunk, size] } }
    assert_equal [["", 0]], calls
    # Three arguments: the env, with the status already set.
    seen = []
    c.get("/bytes/10") do |req|
      req.options.on_data = ->(chunk, _size, env) { seen << [chunk, env.status] }
    end
    assert_equal [[pattern(10), 200]], seen
    # An exception in on_data cancels the stream; the connection goes on.
    assert_raises(RuntimeError) do
      c.get("/bytes/1000000") { |req| req.options.on_data = proc { raise "enough" } }
    end
    assert_equal 200, c.get("/").status
  end

  def test_proxy_with_credentials
    proxy = Tinyproxy.shared
    c = conn(proxy: { uri: proxy.url(credentials: false), user: Tinyproxy::USER,
                      password: Tinyproxy::PASSWORD })
    res = c.post("/echo", "through the proxy")
    assert_equal "through the proxy", res.body
    authority = url.delete_prefix("http://")
    assert proxy.wait_for(/CONNECT #{Regexp.escape(authority)} HTTP/), proxy.log
    err = assert_raises(Faraday::ConnectionFailed) do
      conn(proxy: proxy.url(credentials: false)).get("/")
    end
    assert_instance_of H2Client::ProxyError, err.wrapped_exception
  end

  def test_one_client_shared_by_threads_and_close
    c = conn
    results = Array.new(8) { |i| Thread.new { c.get("/bytes/#{i + 1}").body } }.map(&:value)
    assert_equal (1..8).map { |n| pattern(n) }, results
    clients = clients_of(c).values
    assert_equal 1, clients.size
    assert_equal 1, clients.first.stats[:connections_opened], "one HTTP/2 connection"
    c.close
    assert clients.first.closed?
    assert_empty clients_of(c)
    assert_equal 200, c.get("/").status, "usable after close"
  end

  def test_adapter_options_and_block_reach_the_client
    made = []
    c = Faraday.new(url) do |f|
      f.adapter(:h2client, follow_redirects: 3) { |client| made << client }
    end
    (@conns ||= []) << c
    res = c.get("/redirect/302", to: "/echo")
    assert_equal [200, "/echo"], [res.status, res.headers["x-echo-path"]]
    assert_equal 302, conn.get("/redirect/302", to: "/echo").status, "not followed by default"
    assert_equal 1, made.size
    assert_instance_of H2Client::Client, made.first
    assert_raises(ArgumentError) do
      Faraday.new(url) { |f| f.adapter :h2client, no_such_option: 1 }.get("/")
    end
  end
end
