# frozen_string_literal: true

require "test_helper"
require "tinyproxy"
require "uri"

# Proxies: HTTP CONNECT tunnels through tinyproxy, to cleartext and TLS origins; the proxy's
# refusal; no_proxy:; and proxy: "" / false against a proxy in the environment.
class ProxyTest < Minitest::Test
  include H2TestHelpers

  def proxy
    Tinyproxy.shared
  end

  # A client without a base URL, closed by teardown.
  def bare_client(**opts)
    c = H2Client::Client.new(connect_timeout_ms: 5_000, request_timeout_ms: 10_000, **opts)
    (@clients ||= []) << c
    c
  end

  def authority(url)
    url.delete_prefix("http://").delete_prefix("https://")
  end

  def test_connect_tunnel_to_cleartext_and_tls_origins
    tls = TestServer.tls
    c = bare_client(proxy: proxy.url, ca_file: tls[:ca])
    [url, tls[:url]].each do |origin|
      2.times do
        res = c.post("#{origin}/echo", body: "through the tunnel")
        assert_equal 200, res.status
        assert_equal "through the tunnel", res.body
        assert_equal authority(origin), res["x-echo-authority"]
        assert_equal "#{origin}/echo", res.url
      end
      # tinyproxy logs each CONNECT before it answers it: the line is in its log pipe by
      # now, on its way to the reading thread.
      assert proxy.wait_for(/CONNECT #{Regexp.escape(authority(origin))} HTTP/),
             "no CONNECT to #{origin} in the proxy's log:\n#{proxy.log}"
      assert_equal 1, c.origin_stats(origin)[:connections_opened], "one tunnel per origin"
    end
    # A URI works as the proxy too; the body streams through the tunnel.
    c = bare_client(proxy: URI(proxy.url))
    assert_equal pattern(200_000), c.get("#{url}/bytes/200000").body
  end

  def test_proxy_refusal_is_a_proxy_error
    c = bare_client(proxy: proxy.url(credentials: false))
    err = assert_raises(H2Client::ProxyError) { c.get("#{url}/") }
    assert_equal "H2_E_PROXY", err.code_name
    assert_equal :no, err.processed
    assert_match(/40[17]/, err.message) # tinyproxy 1.11 answers 401, others 407
    assert_raises(H2Client::ProxyError) { c.get("#{url}/") { |_chunk, _res| nil } }
    # The same with a redirect-following client: the first hop already fails.
    assert_raises(H2Client::ProxyError) do
      bare_client(proxy: proxy.url(credentials: false), follow_redirects: 3).get("#{url}/")
    end
  end

  def test_no_proxy_bypasses_the_proxy
    # The proxy would refuse (no credentials): a success means the request went direct.
    [bare_client(proxy: proxy.url(credentials: false), no_proxy: "127.0.0.1"),
     bare_client(proxy: proxy.url(credentials: false), no_proxy: %w[example.com 127.0.0.0/8]),
     bare_client(proxy: proxy.url(credentials: false), no_proxy: "*")].each do |c|
      assert_equal 200, c.get("#{url}/").status
    end
    c = bare_client(proxy: proxy.url(credentials: false), no_proxy: "example.com")
    assert_raises(H2Client::ProxyError) { c.get("#{url}/") }
  end

  # The environment is read when a client is created; the child process has its own, so
  # this process's is left alone.
  def test_proxy_from_environment_and_empty_proxy_ignoring_it
    code = <<~RUBY
      require "h2client"
      %w[http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy
         NO_PROXY].each { |name| ENV.delete(name) }
      ENV["http_proxy"] = #{proxy.url(credentials: false).dump}
      def try(**opts)
        c = H2Client::Client.new(connect_timeout_ms: 5_000, request_timeout_ms: 10_000, **opts)
        c.get(#{"#{url}/".dump}).status.to_s
      rescue H2Client::Error => e
        e.class.name
      ensure
        c&.close
      end
      results = [try, try(proxy: nil), try(proxy: ""), try(proxy: false),
                 try(no_proxy: "127.0.0.1"), try(proxy: #{proxy.url.dump})]
      ENV["http_proxy"] = #{proxy.url.dump}
      results << try
      puts "results: " + results.join(" ")
    RUBY
    status, out = run_ruby(code)
    assert status.success?, out
    assert_includes out, "results: H2Client::ProxyError H2Client::ProxyError 200 200 200 200 200"
  end
end
