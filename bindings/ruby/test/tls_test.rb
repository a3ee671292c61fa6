# frozen_string_literal: true

require "test_helper"

class TLSTest < Minitest::Test
  include H2TestHelpers

  # The run's TLS server (TestServer.tls): its certificate (for localhost, 127.0.0.1) is
  # signed by a CA written to a temporary directory.
  def self.server
    TestServer.tls
  end

  def tls_url
    self.class.server[:url]
  end

  def ca_file
    self.class.server[:ca]
  end

  def test_https_with_ca_file
    c = H2Client::Client.new(tls_url, ca_file: ca_file)
    res = c.get("/bytes/1000")
    assert_equal 200, res.status
    assert_equal pattern(1000), res.body
    assert_equal "https", c.post("/echo", body: "x").headers["x-echo-scheme"]
  ensure
    c&.close
  end

  def test_https_with_ca_pem
    c = H2Client::Client.new(tls_url, ca_pem: File.read(ca_file), tls_versions: :tls1_3)
    assert_equal 200, c.get("/").status
  ensure
    c&.close
  end

  def test_untrusted_certificate_is_a_tls_error
    # Trusting the system store only: the test CA is unknown.
    c = H2Client::Client.new(tls_url, connect_timeout_ms: 5000)
    err = assert_raises(H2Client::TLSError) { c.get("/") }
    assert_equal 16, err.code
    assert_equal "H2_E_TLS", err.code_name
    assert_equal :no, err.processed
    assert_match(/certificate/, err.message)
  ensure
    c&.close
  end

  def test_bad_ca_pem_is_a_tls_error
    assert_raises(H2Client::TLSError) { H2Client::Client.new(tls_url, ca_pem: "not pem") }
  end

  def test_insecure_skip_verify
    c = H2Client::Client.new(tls_url, insecure_skip_verify: true)
    assert_equal 200, c.get("/").status
  ensure
    c&.close
  end

  def test_mutual_tls_client_certificate
    dir = Dir.mktmpdir("h2client-ruby-mtls")
    url, _pid, lines = TestServer.start("--tls", "--tls-dir", dir, "--require-client-cert",
                                        extra_lines: 3)
    files = lines.to_h { |l| l.split(": ", 2) }
    base = "https://localhost:#{url[/:(\d+)\z/, 1]}"
    c = H2Client::Client.new(base, ca_file: files.fetch("ca certificate"),
                                   client_cert: files.fetch("client certificate"),
                                   client_key: files.fetch("client key"))
    assert_equal 200, c.get("/").status
    c.close
    c = H2Client::Client.new(base, ca_file: files.fetch("ca certificate"),
                                   client_cert_file: [files.fetch("client certificate"),
                                                      files.fetch("client key")])
    assert_equal 200, c.get("/").status
    c.close
    # Without a certificate the server refuses the handshake.
    c = H2Client::Client.new(base, ca_file: files.fetch("ca certificate"))
    err = assert_raises(H2Client::TLSError) { c.get("/") }
    assert_match(/CertificateRequired/, err.message)
  ensure
    c&.close
    FileUtils.rm_rf(dir) if dir
  end
end
