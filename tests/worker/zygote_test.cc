// askr-worker --zygote driven as askr-proxy drives it: a control socket, fork requests that
// carry the new worker's fds, workers that are children of the zygote's parent.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "fcgi_client.h"
#include "harness.h"

namespace askr::testing::worker {
namespace {

class ZygoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    control_ = sv[0];
    zygote_ = fork();
    if (zygote_ == 0) {
      int out = open(dir_.file("zygote.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(out, 1);
      dup2(out, 2);
      dup2(sv[1], 3);  // the copy is not close-on-exec
      setenv("ASKR_ZYGOTE_FD", "3", 1);
      execl(ASKR_WORKER_BIN, "askr-worker", "--zygote", "--mode", "classic",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(sv[1]);
    timeval limit{20, 0};
    setsockopt(control_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  }
  void TearDown() override {
    if (control_ >= 0) close(control_);
    for (pid_t pid : {zygote_, worker_}) {
      if (pid <= 0) continue;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }

  std::string log() const {
    std::ifstream f(dir_.file("zygote.log"));
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

  // Sends a fork request carrying `fds`; returns the answer (a pid, or -errno), INT_MIN when
  // none came.
  int32_t request(const std::vector<int>& fds) {
    char byte = 'w';
    iovec iov{&byte, 1};
    alignas(cmsghdr) char space[CMSG_SPACE(sizeof(int) * 4)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (!fds.empty()) {
      msg.msg_control = space;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    if (sendmsg(control_, &msg, MSG_NOSIGNAL) != 1) return INT_MIN;
    int32_t answer;
    return recv(control_, &answer, sizeof answer, 0) == ssize_t(sizeof answer) ? answer : INT_MIN;
  }

  static pid_t parent_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(f, line);
    size_t paren = line.rfind(')');
    return paren == std::string::npos ? -1 : atoi(line.c_str() + paren + 4);
  }

  TempDir dir_;
  int control_ = -1;
  pid_t zygote_ = -1;
  pid_t worker_ = -1;
};

TEST_F(ZygoteTest, ForksWorkersThatAreItsParentsChildrenAndOutliveIt) {
  std::string socket = dir_.file("w.sock");
  int listen_fd = listen_unix(socket);
  int ready[2];
  ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
  worker_ = request({listen_fd, ready[1]});
  close(listen_fd);
  close(ready[1]);
  ASSERT_GT(worker_, 0) << log();
  EXPECT_EQ(parent_of(worker_), getpid());  // CLONE_PARENT: ours to reap, not the zygote's
  pollfd p{ready[0], POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1) << log();
  int32_t said = 0;
  EXPECT_EQ(read(ready[0], &said, sizeof said), ssize_t(sizeof said));
  EXPECT_EQ(said, worker_);  // ready, on the pipe it was sent
  close(ready[0]);
  FcgiResponse r = fcgi_request(socket, default_params(php_fixture("opcache.php")));
  ASSERT_TRUE(r.parse()) << r.err << log();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("enabled":true)"), std::string::npos) << r.body;

  // Its supervisor closing the control socket ends the zygote; the worker goes on serving.
  close(control_);
  control_ = -1;
  int status = 0;
  ASSERT_EQ(waitpid(zygote_, &status, 0), zygote_);
  zygote_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << log();
  r = fcgi_request(socket, default_params(php_fixture("opcache.php")));
  ASSERT_TRUE(r.parse()) << r.err << log();
  EXPECT_EQ(r.status, 200);
  kill(worker_, SIGTERM);
  ASSERT_EQ(waitpid(worker_, &status, 0), worker_);
  worker_ = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << log();
}

TEST_F(ZygoteTest, RequestWithoutTheWorkersFdsIsRefusedWithALogLine) {
  EXPECT_EQ(request({}), -EINVAL) << log();
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_EQ(request({fd}), -EINVAL) << log();
  close(fd);
  EXPECT_NE(log().find("a request without the worker's 2 fds"), std::string::npos) << log();
  int status = 0;
  EXPECT_EQ(waitpid(zygote_, &status, WNOHANG), 0);  // still there for the next request
}

TEST(Zygote, WithoutItsControlSocketItDoesNotStart) {
  std::string out;
  EXPECT_EQ(run_command({ASKR_WORKER_BIN, "--zygote"}, &out), 1);
  EXPECT_EQ(run_command({ASKR_WORKER_BIN, "--zygote", "--listen", "/tmp/x.sock"}, &out), 2);
}

}  // namespace
}  // namespace askr::testing::worker
