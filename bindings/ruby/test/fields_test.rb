# frozen_string_literal: true

require "test_helper"
require "raw_h2_server"

# Header fields and trailers, which the binding reads in one call per list
# (h2_*_headers_packed, h2_*_trailers_packed: name\0value\0...), from a scripted server:
# many fields, repeated names, empty values (also the last one), bytes over 0x7f that are
# UTF-8 and that are not, control bytes, for buffered and streamed responses and 1xx heads.
class FieldsTest < Minitest::Test
  include H2TestHelpers

  HIGH = (1..255).reject { |b| [10, 13].include?(b) }.pack("C*").b
  HEAD = [%w[content-type text/plain], ["x-empty", ""], %w[set-cookie a=1],
          ["x-utf8", "héllo ✓"], %w[set-cookie b=2], ["x-latin1", "caf\xE9".b],
          ["x-bytes", HIGH], ["x-tab", "a\tb \x01\x7f"], %w[x-trap set-cookie], %w[x.f001 dot]] +
         Array.new(100) { |i| [format("x-f%03d", i), "v" * (i % 5)] } +
         [["x-last", ""]]
  TRAILERS = [%w[grpc-status 0], ["x-empty", ""], %w[x-sum 1], ["x-bin", "\xFF\xFE".b],
              %w[x-sum 2], ["x-end", ""]].freeze

  def setup
    @server = RawH2Server.new do |conn, id|
      conn.headers(id, [[":status", "103"], %w[link </a.css>], ["x-hint", ""], %w[link </b.js>]])
      conn.headers(id, [[":status", "200"]] + HEAD)
      conn.data(id, "body")
      conn.headers(id, TRAILERS, end_stream: true)
    end
  end

  def teardown
    super
    @server&.close
  end

  # What header_list must be: UTF-8 values where valid, binary ones where not; frozen.
  def expected(fields)
    fields.map do |n, v|
      v = v.dup.force_encoding(Encoding::UTF_8)
      v.force_encoding(Encoding::BINARY) unless v.valid_encoding?
      [n, v]
    end
  end

  def assert_fields(want, got)
    assert_equal want, got
    assert got.frozen? || got.all?(&:frozen?)
    want.zip(got) do |(_, wv), (n, v)|
      assert_equal Encoding::UTF_8, n.encoding
      assert_equal wv.encoding, v.encoding, n
      assert n.frozen?
      assert v.frozen?
      assert_predicate v, :valid_encoding?
    end
  end

  def check(res)
    assert_equal 200, res.status
    assert_fields expected(HEAD), res.header_list
    assert_fields expected(TRAILERS), res.trailer_list
    assert_equal "", res.headers["x-empty"]
    assert_equal "", res["x-last"]
    assert_equal "a=1, b=2", res.headers["set-cookie"]
    assert_equal %w[a=1 b=2], res.header_values("set-cookie")
    assert_equal "héllo ✓", res["x-utf8"]
    assert_equal HIGH, res["x-bytes"]
    assert_equal %w[1 2], res.trailer_values("x-sum")
    assert_equal "1, 2", res.trailers["x-sum"]
    assert_equal "\xFF\xFE".b, res.trailers["x-bin"]
    assert_equal "", res.trailers["x-end"]
  end

  def test_buffered_response
    seen = Queue.new
    c = client_for(on_informational: ->(status, headers) { seen << [status, headers] })
    res = c.get("/")
    check(res)
    assert_equal "body", res.body
    assert_equal [103, { "link" => "</a.css>, </b.js>", "x-hint" => "" }], seen.pop
  end

  def test_streamed_response
    chunks = []
    res = client_for.get("/") do |chunk, head|
      chunks << chunk
      assert_fields expected(HEAD), head.header_list
      assert_empty head.trailer_list
    end
    check(res)
    assert_equal "body", chunks.join
  end

  # res[name] before the Hash is built reads the packed fields directly: the same values as
  # the Hash for every name, in any case, as a Symbol, repeated or not; a value equal to a
  # name (x-trap: set-cookie) is not a field of that name, nor the end of a longer name
  # (cookie, empty), nor does x.f001 match x-f001.
  def test_lookup_without_the_hash
    res = client_for.get("/")
    names = HEAD.map(&:first).uniq + %w[absent dot v x-f00 set-cookie\0x SET-COOKIE X-Utf8 cookie empty]
    got = names.to_h { |n| [n, res[n]] }
    assert_nil res.instance_variable_get(:@headers), "no Hash was built"
    assert_equal "a=1, b=2", res[:"set-cookie"]
    assert_equal "set-cookie", res["x-trap"]
    assert_equal "dot", res["x.f001"]
    assert_equal "v", res["x-f001"]
    names.each do |n|
      want = res.headers[n.downcase]
      if want.nil?
        assert_nil got[n], n
      else
        assert_equal want, got[n], n
        assert_equal want.encoding, got[n].encoding, n
        assert got[n].frozen?, n unless n.downcase == "set-cookie"
      end
    end
  end

  # The splitting itself: empty values (also the last), a value of one byte, UTF-8 and not.
  def test_unpack
    unpack = H2Client::Response.method(:unpack)
    assert_equal [["a", ""], %w[b c], ["d", ""]], unpack.call("a\0\0b\0c\0d\0\0".b)
    assert_equal [%w[a 1]], unpack.call("a\x001\0".b)
    assert_equal [], unpack.call("".b)
    list = unpack.call("x\0\xC3\xA9\0y\0\xE9\0".b)
    assert_equal [["x", "é"], ["y", "\xE9".b]], list
    assert_equal [Encoding::UTF_8, Encoding::BINARY], list.map { |_, v| v.encoding }
    assert_equal 3, H2Client::Response.count("a\0\0b\0c\0d\0\0".b)
  end

  # res[name] on packed fields made by hand in UTF-8 (the library's are binary): offsets are
  # bytes, so multibyte text before the field does not shift it.
  def test_lookup_in_utf8_packed_fields
    res = H2Client::Response.new(200, "x-\u00e9\0\u00e9\u00e9\0content-type\0text/\u00e9\0", "")
    assert_equal "text/\u00e9", res["content-type"]
    assert_equal "\u00e9\u00e9", res["x-\u00e9"]
    assert_nil res["type"]
  end

  # A Response made with lists (as a user may) and a frozen one read as before.
  def test_response_from_lists_and_frozen
    res = H2Client::Response.new(200, [%w[a 1], %w[a 2]], "", [%w[t x]])
    assert_equal({ "a" => "1, 2" }, res.headers)
    assert_equal %w[1 2], res.header_values("a")
    assert_equal({ "t" => "x" }, res.trailers)
    res = client_for.get("/").freeze
    check(res)
    check(Ractor.make_shareable(client_for.get("/"))) # frozen deeply
    assert_match(/headers=#{HEAD.size} body=4 bytes trailers=#{TRAILERS.size}/, res.inspect)
  end

  private

  def client_for(**opts)
    c = H2Client::Client.new(@server.url, request_timeout_ms: 10_000, **opts)
    (@clients ||= []) << c
    c
  end
end
