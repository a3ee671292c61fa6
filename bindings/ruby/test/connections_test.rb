# frozen_string_literal: true

require "test_helper"
require "raw_h2_server"
require "socket"
require "pathname"

# unix_socket:, user_agent:, Client#close_idle_connections, and the defence limits
# (max_continuation_frames, max_empty_data_frames, max_glitches, max_pending_acks,
# max_resets_per_second; max_informational_responses is in informational_test.rb).
class ConnectionsTest < Minitest::Test
  include H2TestHelpers

  # A Unix socket whose connections are relayed to the shared h2testserver's TCP port.
  class UnixRelay
    attr_reader :path, :accepted

    def initialize(port)
      @dir = Dir.mktmpdir("h2client-ruby-unix")
      @path = File.join(@dir, "h2.sock")
      @server = UNIXServer.new(@path)
      @socks = Queue.new
      @accepted = 0
      @thread = Thread.new do
        loop do
          down = @server.accept
          @accepted += 1
          up = TCPSocket.new("127.0.0.1", port)
          @socks << down << up
          [[down, up], [up, down]].each do |from, to|
            Thread.new do
              IO.copy_stream(from, to)
              to.close_write
            rescue IOError, SystemCallError
              nil
            end
          end
        end
      rescue IOError, SystemCallError
        nil # closed
      end
    end

    def close
      @server.close
      @thread.join
      @socks.pop.close until @socks.empty?
      FileUtils.rm_rf(@dir)
    end
  end

  def test_unix_socket_carries_every_origin_named_by_the_url
    relay = UnixRelay.new(url[/:(\d+)\z/, 1].to_i)
    c = H2Client::Client.new("http://unix.example.test", unix_socket: relay.path)
    res = c.get("/echo")
    assert_equal 200, res.status
    assert_equal "unix.example.test", res["x-echo-authority"], "the URL names the origin"
    assert_equal "http://unix.example.test/echo", res.url
    # Another made-up origin, through the same socket (its own connection).
    res = c.get("http://other.example.test:8080/bytes/100")
    assert_equal pattern(100), res.body
    assert_equal 2, relay.accepted
    # A Pathname, and streaming.
    p = H2Client::Client.new(unix_socket: Pathname(relay.path))
    chunks = +""
    p.get("http://x.test/bytes/70000") { |chunk, _| chunks << chunk }
    assert_equal pattern(70_000), chunks
  ensure
    c&.close
    p&.close
    relay&.close
  end

  def test_unix_socket_nobody_listens_on_and_bad_paths
    path = File.join(Dir.mktmpdir("h2client-ruby-unix"), "none.sock")
    c = H2Client::Client.new("http://x.test", unix_socket: path)
    err = assert_raises(H2Client::ConnectError) { c.get("/") }
    assert_includes err.message, path
    assert_equal :no, err.processed
    # "" and nil: TCP, as without the option.
    assert_equal 200, client(unix_socket: "").get("/").status
    assert_equal 200, client(unix_socket: nil).get("/").status
    assert_raises(H2Client::InvalidArgumentError) do
      H2Client::Client.new(unix_socket: "/tmp/#{'x' * 120}")
    end
    assert_raises(TypeError) { H2Client::Client.new(unix_socket: 42) }
  ensure
    c&.close
    FileUtils.rm_rf(File.dirname(path)) if path
  end

  def test_user_agent
    agent = ->(c, **opts) { c.get("/echo", **opts).header_values("x-echo-h-user-agent") }
    assert_equal ["h2client/#{H2Client.library_version}"], agent.call(client)
    assert_equal ["my-app/2.1 (+https://example.test)"],
                 agent.call(client(user_agent: "my-app/2.1 (+https://example.test)"))
    assert_equal [], agent.call(client(user_agent: nil))
    assert_equal [], agent.call(client(user_agent: false))
    # A request's own user-agent (any case) replaces the client's.
    assert_equal ["mine"],
                 agent.call(client(user_agent: "app/1"), headers: { "User-Agent" => "mine" })
    assert_raises(H2Client::InvalidArgumentError) { H2Client::Client.new(user_agent: "a\r\nb: c") }
    assert_raises(H2Client::InvalidArgumentError) { H2Client::Client.new(user_agent: " padded") }
    assert_raises(TypeError) { H2Client::Client.new(user_agent: :bot) }
  end

  def test_close_idle_connections
    c = client
    assert_equal 0, c.close_idle_connections, "none open yet"
    other = "http://localhost:#{url[/:(\d+)\z/, 1]}"
    assert_equal 200, c.get("/").status
    assert_equal 200, c.get("#{other}/").status
    assert_equal 2, c.stats[:connections_open]
    assert_equal 2, c.close_idle_connections
    assert_equal 0, settled_stats(c) { |s| s[:connections_open].zero? }[:connections_open]
    # The next request dials again.
    assert_equal 200, c.get("/").status
    assert_equal 3, c.stats[:connections_opened]
    # A connection with a request in flight is left alone.
    closed_meanwhile = nil
    body = +""
    c.get("/slow-bytes/30/10/50") do |chunk, _|
      closed_meanwhile ||= c.close_idle_connections
      body << chunk
    end
    assert_equal 0, closed_meanwhile
    assert_equal pattern(30), body
    assert_equal 1, c.close_idle_connections
    c.close
    assert_raises(H2Client::ClosedError) { c.close_idle_connections }
  end

  # ----- defences ---------------------------------------------------------------------------

  def raw_server(&script)
    s = RawH2Server.new(&script)
    (@servers ||= []) << s
    s
  end

  def raw_client(server, **opts)
    c = H2Client::Client.new(server.url, request_timeout_ms: 10_000, **opts)
    (@clients ||= []) << c
    c
  end

  def teardown
    super
    (@servers || []).each(&:close)
  end

  def test_max_empty_data_frames
    s = raw_server do |conn, id|
      conn.headers(id, [[":status", "200"]])
      5.times { conn.data(id, "") }
      conn.data(id, "done", end_stream: true)
    end
    c = raw_client(s, max_empty_data_frames: 3)
    err = assert_raises(H2Client::ProtocolError) { c.get("/") }
    assert_equal "ENHANCE_YOUR_CALM", err.h2_error_name
    assert_match(/empty DATA/, err.message)
    assert_equal 1, c.stats[:limit_empty_data_flood]
    assert_equal "done", raw_client(s).get("/").body, "the default (100) lets 5 through"
  end

  def test_max_continuation_frames
    s = raw_server do |conn, id|
      conn.headers(id, [[":status", "200"], ["x-pad", "p" * 600]], continuations: 5)
      conn.data(id, "done", end_stream: true)
    end
    c = raw_client(s, max_continuation_frames: 2)
    err = assert_raises(H2Client::ProtocolError) { c.get("/") }
    assert_match(/CONTINUATION/, err.message)
    assert_equal 1, c.stats[:limit_continuation_flood]
    res = raw_client(s, max_continuation_frames: 0).get("/") # 0: derived from the list size
    assert_equal ["done", "p" * 600], [res.body, res["x-pad"]]
  end

  def test_max_glitches
    s = raw_server do |conn, id|
      5.times { conn.priority(id) }
      conn.headers(id, [[":status", "200"]])
      conn.data(id, "done", end_stream: true)
    end
    c = raw_client(s, max_glitches: 3)
    err = assert_raises(H2Client::ProtocolError) { c.get("/") }
    assert_match(/pointless frames/, err.message)
    assert_equal 1, c.stats[:limit_glitch_flood]
    assert_equal "done", raw_client(s, max_glitches: 10).get("/").body
  end

  def test_defence_options_are_range_checked
    %i[max_empty_data_frames max_pending_acks max_glitches max_informational_responses
       max_resets_per_second].each do |name|
      assert_raises(H2Client::InvalidArgumentError, name.to_s) do
        H2Client::Client.new(url, name => 0)
      end
      assert_raises(TypeError, name.to_s) { H2Client::Client.new(url, name => "1") }
    end
    c = client(max_pending_acks: 10, max_resets_per_second: 50, max_continuation_frames: 0,
               max_empty_data_frames: 1, max_glitches: 1, max_informational_responses: 1)
    assert_equal pattern(1000), c.get("/bytes/1000").body
  end
end
