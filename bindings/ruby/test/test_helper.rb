# frozen_string_literal: true

# Shared setup: loads the binding (a missing libh2client is a LoadError, which fails the
# run) and starts h2testserver once per run (a missing server fails every test that needs
# it; nothing is skipped).
#
#   H2CLIENT_LIB   full path of libh2client.so (else pkg-config, else the system loader)
#   H2TESTSERVER   path of h2testserver (default: ../../target/release/h2testserver)

require "minitest/autorun"
require "io/wait"
require "rbconfig"
require "tmpdir"
require "fileutils"
require "h2client"

warn "h2client #{H2Client.library_version} from #{H2Client.library_path}, ruby #{RUBY_VERSION}, " \
     "ffi #{FFI::VERSION}, minitest #{Minitest::VERSION}"

module TestServer
  ROOT = File.expand_path("../../..", __dir__)
  OWNER = Process.pid
  ONCE = {}
  ONCE_LOCK = Mutex.new

  class << self
    def binary
      path = ENV["H2TESTSERVER"]
      path = File.join(ROOT, "target/release/h2testserver") if path.nil? || path.empty?
      unless File.file?(path) && File.executable?(path)
        raise "h2testserver not found at #{path}: build it with " \
              "`cargo build --release -p h2client-testserver` or set H2TESTSERVER"
      end
      path
    end

    # Starts a server with +args+; returns [url, pid, lines] where lines are the lines it
    # printed after the first (the TLS file paths). Killed at exit.
    def start(*args, extra_lines: 0)
      r, w = IO.pipe
      pid = Process.spawn(binary, "--port", "0", *args, out: w, err: File::NULL)
      w.close
      (@pids ||= []) << pid
      lines = []
      deadline = Time.now + 15
      while lines.size < 1 + extra_lines
        left = deadline - Time.now
        raise "h2testserver did not start within 15 s" if left <= 0 || !r.wait_readable(left)

        line = r.gets
        raise "h2testserver exited before printing its address" if line.nil?

        lines << line.chomp
      end
      @pipes = (@pipes || []) << r # kept open: the server never gets SIGPIPE
      url = lines.first[/\Alistening on (\S+)\z/, 1] or
        raise "unexpected first line from h2testserver: #{lines.first.inspect}"
      [url, pid, lines.drop(1)]
    end

    # The value of the block for +key+, made once: under a lock, as a test's threads may
    # ask at the same time (the first test to use the shared server, if it asks from
    # several threads, would otherwise start one server per thread). Once made, read with
    # no lock (a trap handler may ask).
    def once(key)
      ONCE[key] || ONCE_LOCK.synchronize { ONCE[key] ||= yield }
    end

    # The shared cleartext server's base URL, e.g. "http://127.0.0.1:PORT".
    def url
      once(:url) { start.first }
    end

    # A TLS server shared by the run, started on first use: { url: "https://localhost:PORT",
    # ca: path of the CA certificate (PEM) that signed its certificate for localhost and
    # 127.0.0.1 }.
    def tls
      once(:tls) do
        dir = Dir.mktmpdir("h2client-ruby-tls")
        Minitest.after_run { FileUtils.rm_rf(dir) }
        url, _pid, lines = start("--tls", "--tls-dir", dir, extra_lines: 1)
        ca = lines.first[/\Aca certificate: (.+)\z/, 1] or raise "no CA path in #{lines.inspect}"
        { url: "https://localhost:#{url[/:(\d+)\z/, 1]}", ca: ca }.freeze
      end
    end

    def stop_all
      return unless Process.pid == OWNER

      (@pids || []).each do |pid|
        Process.kill("TERM", pid)
        Process.wait(pid)
      rescue SystemCallError
        nil
      end
    end
  end
end

Minitest.after_run { TestServer.stop_all }

module H2TestHelpers
  def url
    TestServer.url
  end

  def client(**opts)
    c = H2Client::Client.new(url, **opts)
    (@clients ||= []) << c
    c
  end

  def teardown
    (@clients || []).each(&:close)
    super
  end

  # /bytes/N's body: byte i is 'a' + i % 26.
  def pattern(len, offset = 0)
    alphabet = ("a".."z").to_a.join.b
    start = offset % 26
    rotated = alphabet[start..] + alphabet[0, start]
    (rotated * ((len / 26) + 1))[0, len]
  end

  def monotonic
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # The client's stats once the block accepts them (the library updates its counters on
  # its own threads, a moment after the request returned), or the last ones after 3 s.
  def settled_stats(client)
    deadline = monotonic + 3
    loop do
      stats = client.stats
      return stats if yield(stats) || monotonic > deadline

      sleep 0.01
    end
  end

  # A TCP port nothing listens on (bound, then released).
  def free_port
    require "socket"
    s = TCPServer.new("127.0.0.1", 0)
    port = s.addr[1]
    s.close
    port
  end

  # Runs +code+ in a fresh Ruby process with the binding on the load path; returns
  # [Process::Status, output]. Fails after +timeout+ seconds.
  def run_ruby(code, timeout: 60)
    lib = File.expand_path("../lib", __dir__)
    r, w = IO.pipe
    pid = Process.spawn(RbConfig.ruby, "-I", lib, "-e", code, out: w, err: w)
    w.close
    out = +""
    deadline = monotonic + timeout
    loop do
      left = deadline - monotonic
      if left <= 0 || !r.wait_readable(left)
        Process.kill("KILL", pid)
        Process.wait(pid)
        flunk "subprocess did not finish within #{timeout} s; output:\n#{out}"
      end
      chunk = r.read_nonblock(65_536, exception: false)
      break if chunk.nil? # EOF

      out << chunk if chunk.is_a?(String)
    end
    _, status = Process.wait2(pid)
    [status, out]
  ensure
    r&.close
  end
end
