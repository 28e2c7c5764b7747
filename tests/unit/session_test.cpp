#include "smtp/session.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

namespace smtpverify::smtp {
namespace {

// One line per event, in the transcript's notation; step changes ("~ from>to") only if asked.
std::vector<std::string> describe(const std::vector<Event>& events, bool steps = false) {
  std::vector<std::string> lines;
  for (const auto& event : events) {
    if (const auto* e = std::get_if<PhaseStarted>(&event)) {
      lines.push_back("> " + std::string(phase_name(e->phase)) +
                      (e->pipelined ? " (pipelined)" : ""));
    } else if (const auto* e = std::get_if<PhaseEnded>(&event)) {
      lines.push_back("< " + std::string(phase_name(e->phase)));
    } else if (const auto* e = std::get_if<CommandSent>(&event)) {
      lines.push_back("C: " + e->text + (e->secret ? " (secret)" : ""));
    } else if (const auto* e = std::get_if<PayloadSent>(&event)) {
      lines.push_back("C: [message: " + std::to_string(e->bytes) + " bytes]");
    } else if (const auto* e = std::get_if<ReplyReceived>(&event)) {
      for (std::size_t i = 0; i < e->reply.lines.size(); ++i) {
        const char* sep = i + 1 == e->reply.lines.size() ? " " : "-";
        lines.push_back("S: " + std::to_string(e->reply.code) + sep + e->reply.lines[i]);
      }
    } else if (std::holds_alternative<TlsWanted>(event)) {
      lines.push_back("tls wanted");
    } else if (const auto* e = std::get_if<StepChanged>(&event)) {
      if (steps) lines.push_back("~ " + std::string(e->from) + ">" + std::string(e->to));
    } else if (const auto* e = std::get_if<Note>(&event)) {
      lines.push_back("* " + e->text);
    }
  }
  return lines;
}

// A server script: before each server chunk, the client must have sent exactly `client`.
struct Turn {
  std::string client;  // what the session must have sent before the server speaks
  std::string server;  // bytes the server then sends ("" = the server closes)
};

struct Outcome {
  std::vector<std::string> sent;  // everything the client sent, one entry per write
  std::vector<FindingKind> findings;
  Want final_want;
  std::string unexpected;  // description of a script violation
  std::string trailing;    // what the client sent after the last server turn
};

// Runs the session against the script. If split_turn >= 0, the server chunk of that turn is
// delivered in two reads cut at split_pos.
Outcome run(const Plan& plan, const std::vector<Turn>& script, int split_turn = -1,
            std::size_t split_pos = 0) {
  Session s(plan);
  Outcome out;
  std::string pending;  // client bytes not yet matched against a turn
  for (std::size_t t = 0; t < script.size(); ++t) {
    while (s.want() == Want::Write) {
      const auto bytes = s.take_output();
      out.sent.push_back(bytes);
      pending += bytes;
    }
    if (pending != script[t].client) {
      out.unexpected = "turn " + std::to_string(t) + ": client sent '" + pending + "', expected '" +
                       script[t].client + "'";
      break;
    }
    pending.clear();
    if (s.want() != Want::Read) {
      out.unexpected = "turn " + std::to_string(t) + ": session does not want to read";
      break;
    }
    const std::string& data = script[t].server;
    if (data.empty()) {
      s.receive_eof();
    } else if (static_cast<int>(t) == split_turn && split_pos > 0 && split_pos < data.size()) {
      s.receive(std::string_view(data).substr(0, split_pos));
      EXPECT_NE(s.want(), Want::Write) << "wrote after a partial reply";
      s.receive(std::string_view(data).substr(split_pos));
    } else {
      s.receive(data);
    }
  }
  while (s.want() == Want::Write) {
    out.sent.push_back(s.take_output());
    out.trailing += out.sent.back();
  }
  for (const auto& f : s.findings()) out.findings.push_back(f.kind);
  out.final_want = s.want();
  return out;
}

// Runs unsplit, then with every server chunk split at every byte boundary: all runs agree.
Outcome run_every_split(const Plan& plan, const std::vector<Turn>& script) {
  const Outcome whole = run(plan, script);
  for (std::size_t t = 0; t < script.size(); ++t) {
    for (std::size_t cut = 1; cut < script[t].server.size(); ++cut) {
      const Outcome split = run(plan, script, static_cast<int>(t), cut);
      std::string joined_whole, joined_split;
      for (const auto& s : whole.sent) joined_whole += s;
      for (const auto& s : split.sent) joined_split += s;
      EXPECT_EQ(joined_split, joined_whole) << "turn " << t << " cut " << cut;
      EXPECT_EQ(split.findings, whole.findings) << "turn " << t << " cut " << cut;
      EXPECT_EQ(split.unexpected, whole.unexpected) << "turn " << t << " cut " << cut;
    }
  }
  return whole;
}

Plan basic_plan() {
  Plan p;
  p.helo_name = "probe.example.org";
  return p;
}

TEST(Session, MinimalDialogueWithoutTransaction) {
  const auto out = run_every_split(
      basic_plan(), {
                        {"", "220 mail.example.org ESMTP Postfix\r\n"},
                        {"EHLO probe.example.org\r\n",
                         "250-mail.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n"},
                        {"QUIT\r\n", "221 2.0.0 Bye\r\n"},
                    });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_TRUE(out.findings.empty());
  EXPECT_EQ(out.final_want, Want::Done);
}

TEST(Session, FullTransaction) {
  Plan p = basic_plan();
  p.mail_from = "monitor@example.org";
  p.recipients = {{"a@example.org", false}, {"b@example.org", false}, {"x@example.net", true}};
  p.payload = "Subject: t\r\n\r\n..dot\r\n";
  p.commands = {"NOOP"};
  const auto out = run_every_split(
      p, {
             {"", "220-mail.example.org ESMTP\r\n220 welcome\r\n"},
             {"EHLO probe.example.org\r\n", "250-mail.example.org\r\n250 SIZE 1000\r\n"},
             {"MAIL FROM:<monitor@example.org>\r\n", "250 2.1.0 Ok\r\n"},
             {"RCPT TO:<a@example.org>\r\n", "250 2.1.5 Ok\r\n"},
             {"RCPT TO:<b@example.org>\r\n", "251 2.1.5 forwarded\r\n"},
             {"RCPT TO:<x@example.net>\r\n", "554 5.7.1 Relay access denied\r\n"},
             {"DATA\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n"},
             {"Subject: t\r\n\r\n..dot\r\n.\r\n", "250 2.0.0 Ok: queued as ABC\r\n"},
             {"NOOP\r\n", "250 2.0.0 Ok\r\n"},
             {"QUIT\r\n", "221 2.0.0 Bye\r\n"},
         });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_TRUE(out.findings.empty());
  EXPECT_EQ(out.final_want, Want::Done);
}

TEST(Session, NullSender) {
  Plan p = basic_plan();
  p.mail_from = "";
  const auto out = run(p, {
                              {"", "220 x\r\n"},
                              {"EHLO probe.example.org\r\n", "250 x\r\n"},
                              {"MAIL FROM:<>\r\n", "250 ok\r\n"},
                              {"QUIT\r\n", "221 bye\r\n"},
                          });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_TRUE(out.findings.empty());
}

TEST(Session, EhloRejectedFallsBackToHelo) {
  for (const char* code : {"500", "502", "504"}) {
    const auto out = run_every_split(
        basic_plan(), {
                          {"", "220 old server\r\n"},
                          {"EHLO probe.example.org\r\n", std::string(code) + " 5.5.1 what?\r\n"},
                          {"HELO probe.example.org\r\n", "250 old.example.org\r\n"},
                          {"QUIT\r\n", "221 bye\r\n"},
                      });
    EXPECT_EQ(out.unexpected, "") << code;
    EXPECT_TRUE(out.findings.empty()) << code;
  }
}

TEST(Session, EhloAndHeloRejected) {
  const auto out = run(basic_plan(), {
                                         {"", "220 x\r\n"},
                                         {"EHLO probe.example.org\r\n", "502 no\r\n"},
                                         {"HELO probe.example.org\r\n", "501 bad name\r\n"},
                                         {"QUIT\r\n", "221 bye\r\n"},
                                     });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::HeloRejected}));
}

TEST(Session, EhloRejectedWithOtherCodeDoesNotFallBack) {
  const auto out = run(basic_plan(), {
                                         {"", "220 x\r\n"},
                                         {"EHLO probe.example.org\r\n", "550 go away\r\n"},
                                         {"QUIT\r\n", "221 bye\r\n"},
                                     });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::HeloRejected}));
}

TEST(Session, LmtpHasNoHeloFallbackAndOneReplyPerRecipient) {
  Plan p = basic_plan();
  p.lmtp = true;
  p.mail_from = "m@example.org";
  p.recipients = {{"a@example.org", false}, {"b@example.org", false}};
  p.payload = "x\r\n";
  const auto out =
      run_every_split(p, {
                             {"", "220 lmtp\r\n"},
                             {"LHLO probe.example.org\r\n", "250 lmtp\r\n"},
                             {"MAIL FROM:<m@example.org>\r\n", "250 ok\r\n"},
                             {"RCPT TO:<a@example.org>\r\n", "250 ok\r\n"},
                             {"RCPT TO:<b@example.org>\r\n", "250 ok\r\n"},
                             {"DATA\r\n", "354 go\r\n"},
                             {"x\r\n.\r\n", "250 a delivered\r\n452 b mailbox full\r\n"},
                             {"QUIT\r\n", "221 bye\r\n"},
                         });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::DataTempFailed}));
  const auto no_fallback = run(p, {
                                      {"", "220 lmtp\r\n"},
                                      {"LHLO probe.example.org\r\n", "500 what\r\n"},
                                      {"QUIT\r\n", "221 bye\r\n"},
                                  });
  EXPECT_EQ(no_fallback.findings, (std::vector<FindingKind>{FindingKind::HeloRejected}));
}

TEST(Session, LmtpDataWithNoAcceptedRecipientWaitsForOneReply) {
  Plan p = basic_plan();
  p.lmtp = true;
  p.mail_from = "m@example.org";
  p.recipients = {{"nobody@example.org", true}};
  p.payload = "x\r\n";
  const auto out = run_every_split(p, {
                                          {"", "220 lmtp\r\n"},
                                          {"LHLO probe.example.org\r\n", "250 lmtp\r\n"},
                                          {"MAIL FROM:<m@example.org>\r\n", "250 ok\r\n"},
                                          {"RCPT TO:<nobody@example.org>\r\n", "550 no\r\n"},
                                          {"DATA\r\n", "354 go\r\n"},
                                          {"x\r\n.\r\n", "250 ok\r\n"},
                                          {"QUIT\r\n", "221 bye\r\n"},
                                      });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, std::vector<FindingKind>{});
}

TEST(Session, GreetingNot220SendsQuit) {
  const auto out = run_every_split(basic_plan(), {
                                                     {"", "554 5.3.2 no service for you\r\n"},
                                                     {"QUIT\r\n", "221 bye\r\n"},
                                                 });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::BannerRejected}));
}

TEST(Session, ExpectStringMissingFromGreeting) {
  Plan p = basic_plan();
  p.expect_banner = "Postfix";
  const auto out = run(p, {
                              {"", "220 mail.example.org ESMTP Exim\r\n"},
                              {"QUIT\r\n", "221 bye\r\n"},
                          });
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::BannerMismatch}));
  const auto ok = run(p, {
                             {"", "220-mail.example.org ESMTP\r\n220 Postfix here\r\n"},
                             {"EHLO probe.example.org\r\n", "250 x\r\n"},
                             {"QUIT\r\n", "221 bye\r\n"},
                         });
  EXPECT_TRUE(ok.findings.empty());
}

TEST(Session, ServiceClosing421ClosesWithoutQuit) {
  Plan p = basic_plan();
  p.mail_from = "m@example.org";
  p.recipients = {{"a@example.org", false}};
  const auto out =
      run_every_split(p, {
                             {"", "220 x\r\n"},
                             {"EHLO probe.example.org\r\n", "250 x\r\n"},
                             {"MAIL FROM:<m@example.org>\r\n", "250 ok\r\n"},
                             {"RCPT TO:<a@example.org>\r\n", "421 4.3.2 shutting down\r\n"},
                         });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::ServiceClosing}));
  EXPECT_EQ(out.trailing, "");  // no QUIT after 421
  EXPECT_EQ(out.final_want, Want::Done);
  const auto greeting = run(p, {{"", "421 busy\r\n"}});
  EXPECT_EQ(greeting.findings, (std::vector<FindingKind>{FindingKind::ServiceClosing}));
}

TEST(Session, EveryRecipientIsTriedThenNoData) {
  Plan p = basic_plan();
  p.mail_from = "m@example.org";
  p.recipients = {
      {"bad@example.org", false}, {"good@example.org", false}, {"later@example.org", false}};
  p.payload = "x\r\n";
  const auto out = run(p, {
                              {"", "220 x\r\n"},
                              {"EHLO probe.example.org\r\n", "250 x\r\n"},
                              {"MAIL FROM:<m@example.org>\r\n", "250 ok\r\n"},
                              {"RCPT TO:<bad@example.org>\r\n", "550 5.1.1 unknown\r\n"},
                              {"RCPT TO:<good@example.org>\r\n", "250 ok\r\n"},
                              {"RCPT TO:<later@example.org>\r\n", "450 4.2.0 greylisted\r\n"},
                              {"QUIT\r\n", "221 bye\r\n"},
                          });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings,
            (std::vector<FindingKind>{FindingKind::RcptRejected, FindingKind::RcptTempFailed}));
}

TEST(Session, ProbeAcceptedMeansNoMessageIsSent) {
  Plan p = basic_plan();
  p.mail_from = "m@example.org";
  p.recipients = {{"a@example.org", false}, {"victim@example.net", true}};
  p.payload = "x\r\n";
  const auto out = run(p, {
                              {"", "220 x\r\n"},
                              {"EHLO probe.example.org\r\n", "250 x\r\n"},
                              {"MAIL FROM:<m@example.org>\r\n", "250 ok\r\n"},
                              {"RCPT TO:<a@example.org>\r\n", "250 ok\r\n"},
                              {"RCPT TO:<victim@example.net>\r\n", "250 ok\r\n"},
                              {"QUIT\r\n", "221 bye\r\n"},
                          });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::ProbeAccepted}));
  const auto temp = run(p, {
                               {"", "220 x\r\n"},
                               {"EHLO probe.example.org\r\n", "250 x\r\n"},
                               {"MAIL FROM:<m@example.org>\r\n", "250 ok\r\n"},
                               {"RCPT TO:<a@example.org>\r\n", "250 ok\r\n"},
                               {"RCPT TO:<victim@example.net>\r\n", "450 try later\r\n"},
                               {"QUIT\r\n", "221 bye\r\n"},
                           });
  EXPECT_EQ(temp.findings, (std::vector<FindingKind>{FindingKind::ProbeTempFailed}));
}

TEST(Session, MailTemporaryAndPermanentFailures) {
  Plan p = basic_plan();
  p.mail_from = "m@example.org";
  p.recipients = {{"a@example.org", false}};
  for (const auto& [reply, kind] : std::vector<std::pair<std::string, FindingKind>>{
           {"451 4.3.0 later\r\n", FindingKind::MailTempFailed},
           {"553 5.1.8 bad sender\r\n", FindingKind::MailRejected},
           {"354 huh\r\n", FindingKind::MailRejected}}) {
    const auto out = run(p, {
                                {"", "220 x\r\n"},
                                {"EHLO probe.example.org\r\n", "250 x\r\n"},
                                {"MAIL FROM:<m@example.org>\r\n", reply},
                                {"QUIT\r\n", "221 bye\r\n"},
                            });
    EXPECT_EQ(out.unexpected, "") << reply;
    EXPECT_EQ(out.findings, (std::vector<FindingKind>{kind})) << reply;
  }
}

TEST(Session, DataRefusedAndEndOfDataRejected) {
  Plan p = basic_plan();
  p.mail_from = "m@example.org";
  p.recipients = {{"a@example.org", false}};
  p.payload = "x\r\n";
  const std::vector<Turn> head = {
      {"", "220 x\r\n"},
      {"EHLO probe.example.org\r\n", "250 x\r\n"},
      {"MAIL FROM:<m@example.org>\r\n", "250 ok\r\n"},
      {"RCPT TO:<a@example.org>\r\n", "250 ok\r\n"},
  };
  auto refused = head;
  refused.push_back({"DATA\r\n", "451 4.3.0 not now\r\n"});
  refused.push_back({"QUIT\r\n", "221 bye\r\n"});
  EXPECT_EQ(run(p, refused).findings, (std::vector<FindingKind>{FindingKind::DataTempFailed}));
  auto rejected = head;
  rejected.push_back({"DATA\r\n", "354 go\r\n"});
  rejected.push_back({"x\r\n.\r\n", "554 5.7.1 spam\r\n"});
  rejected.push_back({"QUIT\r\n", "221 bye\r\n"});
  const auto out = run_every_split(p, rejected);
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::DataRejected}));
}

TEST(Session, QuitNotAnswered221) {
  const auto bad = run(basic_plan(), {
                                         {"", "220 x\r\n"},
                                         {"EHLO probe.example.org\r\n", "250 x\r\n"},
                                         {"QUIT\r\n", "250 whatever\r\n"},
                                     });
  EXPECT_EQ(bad.findings, (std::vector<FindingKind>{FindingKind::QuitFailed}));
  const auto closed = run(basic_plan(), {
                                            {"", "220 x\r\n"},
                                            {"EHLO probe.example.org\r\n", "250 x\r\n"},
                                            {"QUIT\r\n", ""},
                                        });
  EXPECT_EQ(closed.findings, (std::vector<FindingKind>{FindingKind::QuitFailed}));
}

TEST(Session, UnsolicitedDataAfterGreetingClosesWithoutSending) {
  const auto out = run(basic_plan(), {{"", "220 x\r\n250 injected\r\n"}});
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::UnsolicitedData}));
  EXPECT_TRUE(out.sent.empty());
  EXPECT_EQ(out.final_want, Want::Done);
}

TEST(Session, UnsolicitedPartialLineAfterReply) {
  const auto out = run(basic_plan(), {
                                         {"", "220 x\r\n"},
                                         {"EHLO probe.example.org\r\n", "250 x\r\n2"},
                                     });
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::UnsolicitedData}));
  EXPECT_EQ(out.trailing, "");
  Plan p = basic_plan();
  Session s(p);
  s.receive("220 x\r\n250 injected\r\n");
  ASSERT_EQ(s.findings().size(), 1u);
  EXPECT_EQ(s.findings()[0].command, "");  // after the greeting, not after the queued EHLO
}

TEST(Session, MalformedAndOverLongReplies) {
  const auto garbage = run(basic_plan(), {{"", "HTTP/1.1 400 Bad Request\r\n"}});
  EXPECT_EQ(garbage.findings, (std::vector<FindingKind>{FindingKind::MalformedReply}));
  EXPECT_TRUE(garbage.sent.empty());
  const auto mixed = run(basic_plan(), {
                                           {"", "220 x\r\n"},
                                           {"EHLO probe.example.org\r\n", "250-a\r\n251 b\r\n"},
                                       });
  EXPECT_EQ(mixed.findings, (std::vector<FindingKind>{FindingKind::MalformedReply}));
  const auto longline = run(basic_plan(), {{"", "220 " + std::string(10000, 'a')}});
  EXPECT_EQ(longline.findings, (std::vector<FindingKind>{FindingKind::OverLongReply}));
}

TEST(Session, ServerClosesEarly) {
  const auto before = run(basic_plan(), {{"", ""}});
  EXPECT_EQ(before.findings, (std::vector<FindingKind>{FindingKind::ConnectionClosed}));
  EXPECT_EQ(before.final_want, Want::Done);
  const auto mid = run(basic_plan(), {{"", "220-partial\r\n"}, {"", ""}});
  EXPECT_EQ(mid.findings, (std::vector<FindingKind>{FindingKind::ConnectionClosed}));
}

TEST(Session, CommandsRunAfterTransactionWithTheirReplies) {
  Plan p = basic_plan();
  p.commands = {"VRFY root", "NOOP"};
  Session s(p);
  s.receive("220 x\r\n");
  EXPECT_EQ(s.take_output(), "EHLO probe.example.org\r\n");
  s.receive("250 x\r\n");
  EXPECT_EQ(s.take_output(), "VRFY root\r\n");
  s.receive("252 2.0.0 root\r\n");
  EXPECT_EQ(s.take_output(), "NOOP\r\n");
  s.receive("250 2.0.0 Ok\r\n");
  EXPECT_EQ(s.take_output(), "QUIT\r\n");
  s.receive("221 bye\r\n");
  EXPECT_EQ(s.want(), Want::Done);
  ASSERT_EQ(s.commands().size(), 2u);
  EXPECT_EQ(s.commands()[0].reply->code, 252);
  EXPECT_EQ(s.commands()[1].reply->code, 250);
}

// The driver may drain events between the session queuing a command and writing it; bytes
// that arrive in between are unsolicited, and the queued command never went out.
TEST(Session, EventsOfQueuedOutputWaitForTakeOutput) {
  Plan p = basic_plan();
  p.mail_from = "m@example.org";
  Session s(p);
  s.receive("220 x\r\n");
  (void)s.take_output();
  s.receive("250 x\r\n");
  EXPECT_EQ(describe(s.take_events()),
            (std::vector<std::string>{"> banner", "S: 220 x", "> ehlo", "C: EHLO probe.example.org",
                                      "S: 250 x"}));
  s.receive("250 2.1.0 forged\r\n");  // before MAIL went out
  EXPECT_EQ(s.want(), Want::Done);
  EXPECT_EQ(describe(s.take_events()), (std::vector<std::string>{"> done"}));
  ASSERT_EQ(s.findings().size(), 1u);
  EXPECT_EQ(s.findings()[0].kind, FindingKind::UnsolicitedData);
  EXPECT_EQ(s.findings()[0].command, "EHLO probe.example.org");
}

TEST(Session, PhasesAndTranscriptEvents) {
  Plan p = basic_plan();
  p.mail_from = "m@example.org";
  Session s(p);
  s.receive("220 x\r\n");
  (void)s.take_output();
  s.receive("250-x\r\n250 SIZE 1000\r\n");
  EXPECT_EQ(s.phase(), Phase::Mail);
  EXPECT_EQ(s.waiting_for(), "reply to MAIL FROM");
  EXPECT_EQ(s.take_output(), "MAIL FROM:<m@example.org>\r\n");  // its events come once taken
  const auto lines = describe(s.take_events());
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "> banner", "S: 220 x", "> ehlo", "C: EHLO probe.example.org", "S: 250-x",
                       "S: 250 SIZE 1000", "> mail", "C: MAIL FROM:<m@example.org>"}));
}

// Issue 14 #8: EHLO was queued in answer to the banner, but the same read carried more: the
// session aborts and EHLO never goes out, so no event may say it did (nothing timed for it).
TEST(Session, CommandDiscardedByAbortLeavesNoEvent) {
  Session s(basic_plan());
  s.receive("220 x ESMTP\r\n250 injected\r\n");
  EXPECT_EQ(s.want(), Want::Done);
  EXPECT_EQ(s.take_output(), "");
  ASSERT_EQ(s.findings().size(), 1u);
  EXPECT_EQ(s.findings()[0].kind, FindingKind::UnsolicitedData);
  EXPECT_EQ(s.findings()[0].command, "");  // after the greeting
  EXPECT_EQ(s.findings()[0].phase, Phase::Banner);
  EXPECT_EQ(describe(s.take_events(), true),
            (std::vector<std::string>{"> banner", "S: 220 x ESMTP", "~ banner>done", "> done"}));
}

// A plan with one recipient and a 20-byte message.
Plan data_plan() {
  Plan p = basic_plan();
  p.mail_from = "m@example.org";
  p.recipients = {{"r@example.org", false}};
  p.payload = "Subject: x\r\n\r\nbody\r\n";
  return p;
}

// Runs the session up to DATA sent, its events taken.
void until_data(Session& s) {
  for (const char* reply : {"220 x\r\n", "250 x\r\n", "250 ok\r\n", "250 ok\r\n"}) {
    s.receive(reply);
    (void)s.take_output();
  }
  (void)s.take_events();
}

TEST(Session, PayloadDiscardedByAbortLeavesNoEvent) {
  Session s(data_plan());
  until_data(s);
  s.receive("354 go\r\n250 too early\r\n");
  EXPECT_EQ(s.want(), Want::Done);
  EXPECT_EQ(s.take_output(), "");
  EXPECT_EQ(s.findings()[0].kind, FindingKind::UnsolicitedData);
  EXPECT_EQ(s.findings()[0].command, "DATA");
  EXPECT_EQ(describe(s.take_events(), true),
            (std::vector<std::string>{"S: 354 go", "~ data>done", "> done"}));
}

TEST(Session, StepChangesAreNamedAndTlsIsAnnounced) {
  Plan p = basic_plan();
  p.starttls = true;
  Session s(p);
  s.receive("220 x\r\n");
  (void)s.take_output();
  s.receive("250-x\r\n250 STARTTLS\r\n");
  EXPECT_EQ(s.take_output(), "STARTTLS\r\n");
  s.receive("220 go\r\n");
  EXPECT_EQ(describe(s.take_events(), true),
            (std::vector<std::string>{"> banner", "S: 220 x", "~ banner>ehlo", "> ehlo",
                                      "C: EHLO probe.example.org", "S: 250-x", "S: 250 STARTTLS",
                                      "~ ehlo>starttls", "> starttls", "C: STARTTLS", "tls wanted",
                                      "S: 220 go", "~ starttls>tls-handshake"}));
}

TEST(Session, MessageBodyIsOnePayloadEvent) {
  const Plan p = data_plan();
  Session s(p);
  until_data(s);
  s.receive("354 go\r\n");
  EXPECT_EQ(s.take_output(), *p.payload + ".\r\n");
  EXPECT_EQ(describe(s.take_events(), true),
            (std::vector<std::string>{"S: 354 go", "~ data>data-end", "C: [message: 20 bytes]"}));
}

}  // namespace
}  // namespace smtpverify::smtp

namespace smtpverify::smtp {
namespace {

Plan tls_plan() {
  Plan p;
  p.helo_name = "probe.example.org";
  p.starttls = true;
  p.mail_from = "m@example.org";
  return p;
}

TEST(SessionStarttls, HandshakeThenCapabilitiesFromScratch) {
  Session s(tls_plan());
  s.receive("220 mx ESMTP\r\n");
  EXPECT_EQ(s.take_output(), "EHLO probe.example.org\r\n");
  s.receive("250-mx\r\n250-STARTTLS\r\n250 PIPELINING\r\n");
  EXPECT_EQ(s.take_output(), "STARTTLS\r\n");
  EXPECT_EQ(s.phase(), Phase::Starttls);
  s.receive("220 2.0.0 Ready to start TLS\r\n");
  EXPECT_EQ(s.want(), Want::StartTls);
  EXPECT_EQ(s.waiting_for(), "TLS handshake");
  EXPECT_TRUE(s.capabilities().has("PIPELINING"));
  s.tls_established();
  EXPECT_TRUE(s.tls_active());
  EXPECT_FALSE(s.capabilities().has("PIPELINING"));  // RFC 3207 §4.2: forgotten
  EXPECT_FALSE(s.greeting().has_value());
  EXPECT_EQ(s.take_output(), "EHLO probe.example.org\r\n");  // EHLO again, inside TLS
  s.receive("250-mx\r\n250 SIZE 1000\r\n");
  EXPECT_TRUE(s.capabilities().has("SIZE"));
  EXPECT_FALSE(s.capabilities().has("STARTTLS"));
  EXPECT_EQ(s.take_output(), "MAIL FROM:<m@example.org>\r\n");  // never STARTTLS twice
  EXPECT_TRUE(s.findings().empty());
}

TEST(SessionStarttls, InjectedReplyAfter220IsRefusedBeforeTheHandshake) {
  for (const std::string tail : {"250 injected\r\n", "2", "\r\n"}) {
    Session s(tls_plan());
    s.receive("220 mx\r\n");
    (void)s.take_output();
    s.receive("250-mx\r\n250 STARTTLS\r\n");
    (void)s.take_output();
    s.receive("220 go ahead\r\n" + tail);
    EXPECT_EQ(s.want(), Want::Done) << tail;  // no handshake, nothing more sent
    EXPECT_EQ(s.take_output(), "");
    ASSERT_EQ(s.findings().size(), 1u);
    EXPECT_EQ(s.findings()[0].kind, FindingKind::StarttlsInjection);
  }
}

TEST(SessionStarttls, BytesArrivingLaterAreInjectionToo) {
  Session s(tls_plan());
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive("250-mx\r\n250 STARTTLS\r\n");
  (void)s.take_output();
  s.receive("220 go ahead\r\n");
  ASSERT_EQ(s.want(), Want::StartTls);
  s.receive("250 late injection\r\n");
  EXPECT_EQ(s.want(), Want::Done);
  EXPECT_EQ(s.findings()[0].kind, FindingKind::StarttlsInjection);
}

TEST(SessionStarttls, NotOfferedOrRefusedQuitsWithoutMail) {
  const auto not_offered =
      run(tls_plan(), {
                          {"", "220 mx\r\n"},
                          {"EHLO probe.example.org\r\n", "250-mx\r\n250 SIZE 1\r\n"},
                          {"QUIT\r\n", "221 bye\r\n"},
                      });
  EXPECT_EQ(not_offered.unexpected, "");
  EXPECT_EQ(not_offered.findings, (std::vector<FindingKind>{FindingKind::StarttlsNotOffered}));
  for (const char* code : {"454 4.7.0 TLS not available\r\n", "502 5.5.1 no\r\n"}) {
    const auto refused =
        run(tls_plan(), {
                            {"", "220 mx\r\n"},
                            {"EHLO probe.example.org\r\n", "250-mx\r\n250 STARTTLS\r\n"},
                            {"STARTTLS\r\n", code},
                            {"QUIT\r\n", "221 bye\r\n"},
                        });
    EXPECT_EQ(refused.unexpected, "") << code;
    EXPECT_EQ(refused.findings, (std::vector<FindingKind>{FindingKind::StarttlsRefused})) << code;
  }
}

TEST(SessionStarttls, NoHeloFallbackWhenTlsIsRequired) {
  const auto out = run(tls_plan(), {
                                       {"", "220 mx\r\n"},
                                       {"EHLO probe.example.org\r\n", "502 what\r\n"},
                                       {"QUIT\r\n", "221 bye\r\n"},
                                   });
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::HeloRejected}));
}

TEST(SessionStarttls, UntrustedCertificateSendsOnlyQuit) {
  Plan p = tls_plan();
  p.auth = AuthPlan{AuthPlan::Mechanism::Plain, "c2VjcmV0", "", "", ""};
  Session s(p);
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive("250-mx\r\n250 STARTTLS\r\n");
  (void)s.take_output();
  s.receive("220 go\r\n");
  s.tls_untrusted();
  EXPECT_TRUE(s.tls_active());
  EXPECT_EQ(s.take_output(), "QUIT\r\n");  // no EHLO, no AUTH, no MAIL
  s.receive("221 bye\r\n");
  EXPECT_EQ(s.want(), Want::Done);
  EXPECT_TRUE(s.findings().empty());
}

TEST(SessionStarttls, FailedHandshakeSendsNothingMore) {
  Session s(tls_plan());
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive("250-mx\r\n250 STARTTLS\r\n");
  (void)s.take_output();
  s.receive("220 go\r\n");
  s.tls_failed();
  EXPECT_EQ(s.want(), Want::Done);
  EXPECT_EQ(s.take_output(), "");
}

Plan auth_plan(AuthPlan::Mechanism mech) {
  Plan p;
  p.helo_name = "probe.example.org";
  p.tls_active = true;  // implicit TLS
  p.mail_from = "m@example.org";
  p.auth = AuthPlan{mech, "AHVzZXIAc2VjcmV0", "dXNlcg==", "c2VjcmV0", "secret"};
  return p;
}

std::string transcript_of(Session& s) {
  std::string all;
  for (const auto& line : describe(s.take_events())) all += line + "\n";
  return all;
}

TEST(SessionAuth, PlainSucceedsAndTheSecretIsMasked) {
  Session s(auth_plan(AuthPlan::Mechanism::Plain));
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive("250-mx\r\n250 AUTH LOGIN plain\r\n");  // mechanism names are case-insensitive
  EXPECT_EQ(s.take_output(), "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
  EXPECT_EQ(s.phase(), Phase::Auth);
  s.receive("235 2.7.0 Authentication successful\r\n");
  EXPECT_EQ(s.take_output(), "MAIL FROM:<m@example.org>\r\n");
  const std::string t = transcript_of(s);
  EXPECT_NE(t.find("AUTH PLAIN ********"), std::string::npos) << t;
  EXPECT_EQ(t.find("AHVzZXIAc2VjcmV0"), std::string::npos) << t;
}

// Greeting, EHLO offering LOGIN, AUTH LOGIN, the user name; `prompt` then asks for the password.
void login_until_password(Session& s, const std::string& prompt) {
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive("250-mx\r\n250 AUTH PLAIN LOGIN\r\n");
  EXPECT_EQ(s.take_output(), "AUTH LOGIN\r\n");
  s.receive("334 VXNlcm5hbWU6\r\n");
  EXPECT_EQ(s.take_output(), "dXNlcg==\r\n");
  s.receive(prompt);
  EXPECT_EQ(s.take_output(), "c2VjcmV0\r\n");
}

TEST(SessionAuth, LoginExchangeMasksThePassword) {
  Session s(auth_plan(AuthPlan::Mechanism::Login));
  login_until_password(s, "334 UGFzc3dvcmQ6\r\n");
  s.receive("535 5.7.8 authentication failed\r\n");
  EXPECT_EQ(s.take_output(), "QUIT\r\n");
  ASSERT_EQ(s.findings().size(), 1u);
  EXPECT_EQ(s.findings()[0].kind, FindingKind::AuthRejected);
  EXPECT_EQ(s.findings()[0].command, "AUTH LOGIN");
  const std::string t = transcript_of(s);
  EXPECT_EQ(t.find("c2VjcmV0"), std::string::npos) << t;
  EXPECT_NE(t.find("********"), std::string::npos) << t;
}

// Issue 14 #1: a server quoting our AUTH back must not get a secret into anything we keep.
TEST(SessionAuth, PlainEchoedByTheServerIsScrubbed) {
  Session s(auth_plan(AuthPlan::Mechanism::Plain));
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive("250-mx\r\n250 AUTH PLAIN\r\n");
  EXPECT_EQ(s.take_output(), "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
  s.receive(
      "535-5.7.8 Authentication failed for [AUTH PLAIN AHVzZXIAc2VjcmV0]\r\n"
      "535 5.7.8 password secret, AHVzZXIAc2VjcmV0AHVzZXIAc2VjcmV0\r\n");
  EXPECT_EQ(s.take_output(), "QUIT\r\n");
  ASSERT_EQ(s.findings().size(), 1u);
  const Finding& f = s.findings()[0];
  EXPECT_EQ(f.kind, FindingKind::AuthRejected);
  EXPECT_EQ(f.command, "AUTH PLAIN ********");
  EXPECT_EQ(f.reply.lines,
            (std::vector<std::string>{"5.7.8 Authentication failed for [AUTH PLAIN ********]",
                                      "5.7.8 password ********, ****************"}));
  const auto lines = describe(s.take_events());
  EXPECT_EQ(std::vector<std::string>(lines.end() - 4, lines.end()),
            (std::vector<std::string>{
                "S: 535-5.7.8 Authentication failed for [AUTH PLAIN ********]",
                "S: 535 5.7.8 password ********, ****************", "> quit", "C: QUIT"}));
}

TEST(SessionAuth, LoginEchoedByTheServerIsScrubbed) {
  Session s(auth_plan(AuthPlan::Mechanism::Login));
  login_until_password(s, "334 got dXNlcg==, now UGFzc3dvcmQ6\r\n");
  s.receive("535 5.7.8 c2VjcmV0 (secret) is wrong\r\n");
  EXPECT_EQ(s.take_output(), "QUIT\r\n");
  ASSERT_EQ(s.findings().size(), 1u);
  EXPECT_EQ(s.findings()[0].reply.first_line(), "535 5.7.8 ******** (********) is wrong");
  const auto lines = describe(s.take_events());
  const std::vector<std::string> tail(lines.end() - 7, lines.end());
  EXPECT_EQ(tail, (std::vector<std::string>{
                      "S: 334 VXNlcm5hbWU6", "C: dXNlcg==", "S: 334 got ********, now UGFzc3dvcmQ6",
                      "C: ******** (secret)", "S: 535 5.7.8 ******** (********) is wrong", "> quit",
                      "C: QUIT"}));
}

TEST(SessionAuth, BannerAndCapabilitiesAreScrubbedToo) {
  Session s(auth_plan(AuthPlan::Mechanism::Plain));
  s.receive("220 mx secret\r\n");
  (void)s.take_output();
  s.receive("250-mx c2VjcmV0\r\n250 AUTH PLAIN secret\r\n");
  EXPECT_EQ(s.banner()->first_line(), "220 mx ********");
  EXPECT_EQ(s.greeting()->first_line(), "250 mx ********");
  EXPECT_EQ(s.capabilities().params("AUTH"), "PLAIN ********");
}

TEST(SessionAuth, MechanismNotOffered) {
  Session s(auth_plan(AuthPlan::Mechanism::Plain));
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive("250-mx\r\n250 AUTH LOGIN CRAM-MD5\r\n");
  EXPECT_EQ(s.take_output(), "QUIT\r\n");
  ASSERT_EQ(s.findings().size(), 1u);
  EXPECT_EQ(s.findings()[0].kind, FindingKind::AuthNotOffered);
  EXPECT_EQ(s.findings()[0].detail, "LOGIN CRAM-MD5");
}

TEST(SessionAuth, OfferedOnlyBeforeTlsDoesNotCount) {
  Plan p = auth_plan(AuthPlan::Mechanism::Plain);
  p.tls_active = false;
  p.starttls = true;
  Session s(p);
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive("250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n");
  EXPECT_EQ(s.take_output(), "STARTTLS\r\n");  // no AUTH before TLS
  s.receive("220 go\r\n");
  s.tls_established();
  (void)s.take_output();
  s.receive("250-mx\r\n250 SIZE 100\r\n");  // after TLS: no AUTH offered any more
  EXPECT_EQ(s.take_output(), "QUIT\r\n");
  EXPECT_EQ(s.findings()[0].kind, FindingKind::AuthNotOffered);
}

}  // namespace
}  // namespace smtpverify::smtp

// --plaintext-refused: before STARTTLS, MAIL must be refused with 5xx and AUTH not offered.
namespace smtpverify::smtp {
namespace {

Plan probe_plan() {
  Plan p;
  p.helo_name = "probe.example.org";
  p.starttls = true;
  p.mail_from = "m@example.org";
  p.recipients = {{"r@example.org", false}};
  p.payload = "Subject: x\r\n\r\nbody\r\n";
  p.plaintext_probe = "m@example.org";
  return p;
}

const std::string kEhloTls = "250-mx\r\n250 STARTTLS\r\n";

TEST(SessionPlaintext, RefusedWithFiveHundredThenStarttls) {
  const auto out = run_every_split(
      probe_plan(),
      {
          {"", "220 mx ESMTP\r\n"},
          {"EHLO probe.example.org\r\n", kEhloTls},
          {"MAIL FROM:<m@example.org>\r\n", "530 5.7.0 Must issue a STARTTLS command first\r\n"},
          {"STARTTLS\r\n", "454 4.7.0 TLS not available\r\n"},
          {"QUIT\r\n", "221 bye\r\n"},
      });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::StarttlsRefused}));
}

TEST(SessionPlaintext, EventsNameTheProbeAndItsPhase) {
  Session s(probe_plan());
  s.receive("220 mx\r\n");
  (void)s.take_output();
  (void)s.take_events();
  s.receive(kEhloTls);
  EXPECT_EQ(s.phase(), Phase::Plaintext);
  EXPECT_EQ(s.waiting_for(), "reply to MAIL FROM before STARTTLS");
  EXPECT_EQ(s.take_output(), "MAIL FROM:<m@example.org>\r\n");
  s.receive("530 5.7.0 Must issue a STARTTLS command first\r\n");
  EXPECT_EQ(s.take_output(), "STARTTLS\r\n");
  EXPECT_EQ(describe(s.take_events(), true),
            (std::vector<std::string>{
                "S: 250-mx", "S: 250 STARTTLS", "~ ehlo>plaintext-mail", "> plaintext",
                "C: MAIL FROM:<m@example.org>", "S: 530 5.7.0 Must issue a STARTTLS command first",
                "* MAIL refused before TLS, as required", "~ plaintext-mail>starttls", "> starttls",
                "C: STARTTLS", "tls wanted"}));
  EXPECT_EQ(s.plaintext_reply()->code, 530);
  EXPECT_TRUE(s.findings().empty());
}

// Accepted: CRITICAL finding, RSET, STARTTLS, and after TLS the whole transaction as usual
// (a finding of the probe does not stop the message).
TEST(SessionPlaintext, AcceptedIsResetThenTheCheckGoesOn) {
  Session s(probe_plan());
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive(kEhloTls);
  EXPECT_EQ(s.take_output(), "MAIL FROM:<m@example.org>\r\n");
  s.receive("250 2.1.0 Ok\r\n");
  EXPECT_EQ(s.take_output(), "RSET\r\n");
  EXPECT_EQ(s.phase(), Phase::Plaintext);
  EXPECT_EQ(s.waiting_for(), "reply to RSET before STARTTLS");
  s.receive("250 2.0.0 Ok\r\n");
  EXPECT_EQ(s.take_output(), "STARTTLS\r\n");
  s.receive("220 go\r\n");
  s.tls_established();
  EXPECT_EQ(s.take_output(), "EHLO probe.example.org\r\n");
  for (const auto& [reply, next] : std::vector<std::pair<std::string, std::string>>{
           {"250 mx\r\n", "MAIL FROM:<m@example.org>\r\n"},
           {"250 ok\r\n", "RCPT TO:<r@example.org>\r\n"},
           {"250 ok\r\n", "DATA\r\n"},
           {"354 go\r\n", "Subject: x\r\n\r\nbody\r\n.\r\n"},
           {"250 queued\r\n", "QUIT\r\n"}}) {
    s.receive(reply);
    EXPECT_EQ(s.take_output(), next) << reply;
  }
  s.receive("221 bye\r\n");
  EXPECT_EQ(s.want(), Want::Done);
  EXPECT_TRUE(s.message_accepted());
  ASSERT_EQ(s.findings().size(), 1u);
  const Finding& f = s.findings()[0];
  EXPECT_EQ(f.kind, FindingKind::PlaintextMailAccepted);
  EXPECT_EQ(f.phase, Phase::Plaintext);
  EXPECT_EQ(f.command, "MAIL FROM:<m@example.org>");
  EXPECT_EQ(f.reply.first_line(), "250 2.1.0 Ok");
}

TEST(SessionPlaintext, DeferredIsAFindingAndStarttlsFollows) {
  const auto out = run_every_split(probe_plan(),
                                   {
                                       {"", "220 mx\r\n"},
                                       {"EHLO probe.example.org\r\n", kEhloTls},
                                       {"MAIL FROM:<m@example.org>\r\n", "451 4.3.0 try later\r\n"},
                                       {"STARTTLS\r\n", "502 no\r\n"},
                                       {"QUIT\r\n", "221 bye\r\n"},
                                   });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::PlaintextMailDeferred,
                                                    FindingKind::StarttlsRefused}));
}

// AUTH before TLS and an accepted MAIL: both are reported, once each; the null sender without -f.
TEST(SessionPlaintext, AuthOfferedAndMailAcceptedAreBothReported) {
  for (const std::string auth : {"250-AUTH PLAIN LOGIN\r\n", "250-AUTH=PLAIN LOGIN\r\n"}) {
    Plan p = basic_plan();
    p.starttls = true;
    p.plaintext_probe = "";
    const auto out = run_every_split(
        p, {
               {"", "220 mx\r\n"},
               {"EHLO probe.example.org\r\n", "250-mx\r\n" + auth + "250 STARTTLS\r\n"},
               {"MAIL FROM:<>\r\n", "250 2.1.0 Ok\r\n"},
               {"RSET\r\n", "250 2.0.0 Ok\r\n"},
               {"STARTTLS\r\n", "454 4.7.0 no\r\n"},
               {"QUIT\r\n", "221 bye\r\n"},
           });
    EXPECT_EQ(out.unexpected, "") << auth;
    EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::PlaintextAuthOffered,
                                                      FindingKind::PlaintextMailAccepted,
                                                      FindingKind::StarttlsRefused}))
        << auth;
    Session s(p);
    s.receive("220 mx\r\n");
    (void)s.take_output();
    s.receive("250-mx\r\n" + auth + "250 STARTTLS\r\n");
    ASSERT_EQ(s.findings().size(), 1u);
    EXPECT_EQ(s.findings()[0].detail, "PLAIN LOGIN") << auth;
    EXPECT_EQ(s.findings()[0].command, "");
  }
}

// Without the probe, AUTH before TLS is no finding (the server may have reasons).
TEST(SessionPlaintext, NoProbeNoFinding) {
  Plan p = probe_plan();
  p.plaintext_probe.reset();
  Session s(p);
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive("250-mx\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n");
  EXPECT_EQ(s.take_output(), "STARTTLS\r\n");
  EXPECT_TRUE(s.findings().empty());
}

TEST(SessionPlaintext, RsetRefusedQuits) {
  const auto out =
      run_every_split(probe_plan(), {
                                        {"", "220 mx\r\n"},
                                        {"EHLO probe.example.org\r\n", kEhloTls},
                                        {"MAIL FROM:<m@example.org>\r\n", "250 ok\r\n"},
                                        {"RSET\r\n", "502 5.5.1 no RSET\r\n"},
                                        {"QUIT\r\n", "221 bye\r\n"},
                                    });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::PlaintextMailAccepted,
                                                    FindingKind::PlaintextRsetFailed}));
}

// The probe runs whether STARTTLS is offered or not: both findings are true.
TEST(SessionPlaintext, ProbeBeforeTheStarttlsOfferIsChecked) {
  const auto out = run(probe_plan(), {
                                         {"", "220 mx\r\n"},
                                         {"EHLO probe.example.org\r\n", "250 mx\r\n"},
                                         {"MAIL FROM:<m@example.org>\r\n", "530 5.7.0 no\r\n"},
                                         {"QUIT\r\n", "221 bye\r\n"},
                                     });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::StarttlsNotOffered}));
}

TEST(SessionPlaintext, CloseOrFourTwentyOneOnTheProbe) {
  Session s(probe_plan());
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive(kEhloTls);
  (void)s.take_output();
  s.receive_eof();
  EXPECT_EQ(s.want(), Want::Done);
  ASSERT_EQ(s.findings().size(), 1u);
  EXPECT_EQ(s.findings()[0].kind, FindingKind::ConnectionClosed);
  EXPECT_EQ(s.findings()[0].phase, Phase::Plaintext);
  EXPECT_EQ(s.findings()[0].command, "MAIL FROM:<m@example.org>");

  const auto closing = run(probe_plan(), {
                                             {"", "220 mx\r\n"},
                                             {"EHLO probe.example.org\r\n", kEhloTls},
                                             {"MAIL FROM:<m@example.org>\r\n", "421 4.7.0 bye\r\n"},
                                         });
  EXPECT_EQ(closing.findings, (std::vector<FindingKind>{FindingKind::ServiceClosing}));
  EXPECT_EQ(closing.trailing, "");  // no QUIT after 421
  EXPECT_EQ(closing.final_want, Want::Done);
}

// ---- PIPELINING (RFC 2920) -------------------------------------------------------------

const std::string kPipeliningEhlo = "250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
const std::string kWithheld =
    "message not sent: connection closed after DATA's 354, the server discards the transaction";

std::vector<Turn> operator+(std::vector<Turn> a, const std::vector<Turn>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Plan pipelined_plan() {
  Plan p = basic_plan();
  p.mail_from = "m@example.org";
  p.recipients = {{"a@example.org", false}, {"x@example.net", true}};
  p.payload = "Subject: t\r\n\r\nbody\r\n";
  return p;
}

// MAIL, both RCPTs and DATA in one write; the message, its "." and QUIT in another.
TEST(SessionPipelining, TwoGroupsWhenOffered) {
  const auto out = run_every_split(
      pipelined_plan(),
      {
          {"", "220 mx ESMTP\r\n"},
          {"EHLO probe.example.org\r\n", kPipeliningEhlo},
          {"MAIL FROM:<m@example.org>\r\nRCPT TO:<a@example.org>\r\nRCPT TO:<x@example.net>\r\n"
           "DATA\r\n",
           "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n554 5.7.1 Relay access denied\r\n354 go ahead\r\n"},
          {"Subject: t\r\n\r\nbody\r\n.\r\nQUIT\r\n", "250 2.0.0 Ok: queued as ABC\r\n221 Bye\r\n"},
      });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_TRUE(out.findings.empty());
  EXPECT_EQ(out.final_want, Want::Done);
  EXPECT_EQ(out.trailing, "");
  EXPECT_EQ(out.sent, (std::vector<std::string>{
                          "EHLO probe.example.org\r\n",
                          "MAIL FROM:<m@example.org>\r\nRCPT TO:<a@example.org>\r\nRCPT "
                          "TO:<x@example.net>\r\nDATA\r\n",
                          "Subject: t\r\n\r\nbody\r\n.\r\nQUIT\r\n"}));
}

// Every reply is attributed to its command; a phase of a group starts once, as pipelined, and
// ends with its last reply (the driver times it from the group's send to that reply).
TEST(SessionPipelining, EventsAttributeEachReplyToItsPhase) {
  Session s(pipelined_plan());
  s.receive("220 x\r\n");
  (void)s.take_output();
  s.receive(kPipeliningEhlo);
  (void)s.take_events();
  EXPECT_EQ(s.waiting_for(), "reply to MAIL FROM");
  (void)s.take_output();
  EXPECT_EQ(
      describe(s.take_events(), true),
      (std::vector<std::string>{"> mail (pipelined)", "C: MAIL FROM:<m@example.org>", "~ ehlo>mail",
                                "> rcpt (pipelined)", "C: RCPT TO:<a@example.org>",
                                "C: RCPT TO:<x@example.net>", "> data (pipelined)", "C: DATA"}));
  s.receive("250 ok\r\n250 ok\r\n");
  EXPECT_EQ(s.phase(), Phase::Rcpt);
  EXPECT_EQ(s.waiting_for(), "reply to RCPT TO");
  EXPECT_EQ(describe(s.take_events(), true),
            (std::vector<std::string>{"S: 250 ok", "< mail", "~ mail>rcpt", "S: 250 ok"}));
  s.receive("550 no\r\n354 go\r\n");
  EXPECT_EQ(s.recipients()[0].reply->code, 250);
  EXPECT_EQ(s.recipients()[1].reply->code, 550);
  EXPECT_EQ(s.take_output(), "Subject: t\r\n\r\nbody\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(describe(s.take_events(), true),
            (std::vector<std::string>{"S: 550 no", "< rcpt", "~ rcpt>data", "S: 354 go", "< data",
                                      "> data (pipelined)", "~ data>data-end",
                                      "C: [message: 20 bytes]", "> quit (pipelined)", "C: QUIT"}));
  s.receive("250 queued\r\n221 bye\r\n");
  EXPECT_EQ(describe(s.take_events(), true),
            (std::vector<std::string>{"S: 250 queued", "< data", "~ data-end>quit", "S: 221 bye",
                                      "< quit", "~ quit>done", "> done"}));
  EXPECT_TRUE(s.message_accepted());
  EXPECT_TRUE(s.pipelined());
  EXPECT_TRUE(s.findings().empty());
}

// Without DATA the group ends with QUIT.
TEST(SessionPipelining, WithoutDataQuitEndsTheGroup) {
  Plan p = pipelined_plan();
  p.payload.reset();
  const auto out =
      run_every_split(p, {
                             {"", "220 mx\r\n"},
                             {"EHLO probe.example.org\r\n", kPipeliningEhlo},
                             {"MAIL FROM:<m@example.org>\r\nRCPT TO:<a@example.org>\r\nRCPT "
                              "TO:<x@example.net>\r\nQUIT\r\n",
                              "250 ok\r\n250 ok\r\n550 no\r\n221 bye\r\n"},
                         });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_TRUE(out.findings.empty());
  EXPECT_EQ(out.final_want, Want::Done);
  EXPECT_EQ(out.trailing, "");
}

// PIPELINING not offered (OpenSMTPD, aiosmtpd), or --no-pipelining: lock-step.
TEST(SessionPipelining, LockStepWhenNotOfferedOrNotAllowed) {
  const std::vector<Turn> lock_step = {
      {"MAIL FROM:<m@example.org>\r\n", "250 ok\r\n"},
      {"RCPT TO:<a@example.org>\r\n", "250 ok\r\n"},
      {"RCPT TO:<x@example.net>\r\n", "550 no\r\n"},
      {"DATA\r\n", "354 go\r\n"},
      {"Subject: t\r\n\r\nbody\r\n.\r\n", "250 queued\r\n"},
      {"QUIT\r\n", "221 bye\r\n"},
  };
  const auto not_offered =
      run_every_split(pipelined_plan(),
                      std::vector<Turn>{{"", "220 mx\r\n"},
                                        {"EHLO probe.example.org\r\n", "250-mx\r\n250 SIZE\r\n"}} +
                          lock_step);
  EXPECT_EQ(not_offered.unexpected, "");
  EXPECT_TRUE(not_offered.findings.empty());
  EXPECT_EQ(not_offered.final_want, Want::Done);
  Plan p = pipelined_plan();
  p.pipelining = false;
  const auto refused = run_every_split(
      p, std::vector<Turn>{{"", "220 mx\r\n"}, {"EHLO probe.example.org\r\n", kPipeliningEhlo}} +
             lock_step);
  EXPECT_EQ(refused.unexpected, "");
  EXPECT_TRUE(refused.findings.empty());
  EXPECT_EQ(refused.final_want, Want::Done);
}

// A --rcpt refused, DATA answered 354 all the same: no message, no QUIT (it would be a line of
// the message); the connection closes without the final "." and the finding says so.
TEST(SessionPipelining, RcptRefusedWithholdsTheMessageAfter354) {
  Plan p = pipelined_plan();
  p.recipients = {{"a@example.org", false}, {"b@example.org", false}};
  const auto out =
      run_every_split(p, {
                             {"", "220 mx\r\n"},
                             {"EHLO probe.example.org\r\n", kPipeliningEhlo},
                             {"MAIL FROM:<m@example.org>\r\nRCPT TO:<a@example.org>\r\nRCPT "
                              "TO:<b@example.org>\r\nDATA\r\n",
                              "250 ok\r\n550 5.1.1 unknown\r\n250 ok\r\n354 go\r\n"},
                         });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::RcptRejected}));
  EXPECT_EQ(out.final_want, Want::Done);
  EXPECT_EQ(out.trailing, "");
  Session s(p);
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive(kPipeliningEhlo);
  (void)s.take_output();
  (void)s.take_events();
  s.receive("250 ok\r\n550 5.1.1 unknown\r\n250 ok\r\n354 go\r\n");
  EXPECT_EQ(s.want(), Want::Done);
  ASSERT_EQ(s.findings().size(), 1u);
  EXPECT_EQ(s.findings()[0].command, "RCPT TO:<a@example.org>");
  EXPECT_EQ(s.findings()[0].reply.code, 550);
  EXPECT_EQ(s.findings()[0].detail, kWithheld);
  EXPECT_FALSE(s.message_accepted());
  EXPECT_EQ(
      describe(s.take_events()),
      (std::vector<std::string>{"S: 250 ok", "< mail", "S: 550 5.1.1 unknown", "S: 250 ok",
                                "< rcpt", "S: 354 go", "< data", "* " + kWithheld, "> done"}));
}

// A --reject-rcpt accepted (open relay) forbids the message just the same.
TEST(SessionPipelining, ProbeAcceptedWithholdsTheMessageAfter354) {
  const auto out = run_every_split(
      pipelined_plan(), {
                            {"", "220 mx\r\n"},
                            {"EHLO probe.example.org\r\n", kPipeliningEhlo},
                            {"MAIL FROM:<m@example.org>\r\nRCPT TO:<a@example.org>\r\nRCPT "
                             "TO:<x@example.net>\r\nDATA\r\n",
                             "250 ok\r\n250 ok\r\n250 relayed\r\n354 go\r\n"},
                        });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::ProbeAccepted}));
  EXPECT_EQ(out.final_want, Want::Done);
  EXPECT_EQ(out.trailing, "");
}

// Every RCPT refused: DATA is refused too (554 no valid recipients), a consequence with no
// finding of its own; QUIT follows in lock-step.
TEST(SessionPipelining, DataRefusedAfterRefusedRcptsIsNoExtraFinding) {
  Plan p = pipelined_plan();
  p.recipients = {{"a@example.org", false}};
  const auto out = run_every_split(
      p, {
             {"", "220 mx\r\n"},
             {"EHLO probe.example.org\r\n", kPipeliningEhlo},
             {"MAIL FROM:<m@example.org>\r\nRCPT TO:<a@example.org>\r\nDATA\r\n",
              "250 ok\r\n550 5.1.1 unknown\r\n554 5.5.1 Error: no valid recipients\r\n"},
             {"QUIT\r\n", "221 bye\r\n"},
         });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::RcptRejected}));
  EXPECT_EQ(out.final_want, Want::Done);
}

// MAIL refused: the 503s to the RCPTs and DATA sent with it are its consequences, not the
// recipients' outcomes.
TEST(SessionPipelining, MailRefusedLeavesTheRestAsConsequences) {
  Plan p = pipelined_plan();
  const auto out = run_every_split(
      p, {
             {"", "220 mx\r\n"},
             {"EHLO probe.example.org\r\n", kPipeliningEhlo},
             {"MAIL FROM:<m@example.org>\r\nRCPT TO:<a@example.org>\r\nRCPT "
              "TO:<x@example.net>\r\nDATA\r\n",
              "550 5.7.1 sender refused\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n"
              "503 5.5.1 need MAIL\r\n"},
             {"QUIT\r\n", "221 bye\r\n"},
         });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::MailRejected}));
  Session s(p);
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive(kPipeliningEhlo);
  (void)s.take_output();
  s.receive("550 no\r\n503 a\r\n503 b\r\n503 c\r\n");
  EXPECT_FALSE(s.recipients()[0].reply.has_value());
  EXPECT_FALSE(s.recipients()[1].reply.has_value());
  EXPECT_EQ(s.take_output(), "QUIT\r\n");
}

// A DATA refused in a good transaction is the finding it is in lock-step.
TEST(SessionPipelining, DataRefusedInAGoodTransaction) {
  const auto out = run_every_split(
      pipelined_plan(), {
                            {"", "220 mx\r\n"},
                            {"EHLO probe.example.org\r\n", kPipeliningEhlo},
                            {"MAIL FROM:<m@example.org>\r\nRCPT TO:<a@example.org>\r\nRCPT "
                             "TO:<x@example.net>\r\nDATA\r\n",
                             "250 ok\r\n250 ok\r\n550 no\r\n451 4.3.0 try later\r\n"},
                            {"QUIT\r\n", "221 bye\r\n"},
                        });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::DataTempFailed}));
}

// A reply missing (the server closes mid-group), one extra, a 421 mid-group: the same
// findings as in lock-step, each naming the command whose reply was due.
TEST(SessionPipelining, MissingExtraAndClosingRepliesMidGroup) {
  const std::string group =
      "MAIL FROM:<m@example.org>\r\nRCPT TO:<a@example.org>\r\nRCPT TO:<x@example.net>\r\nDATA\r\n";
  const auto prefix = [] {
    Session s(pipelined_plan());
    s.receive("220 mx\r\n");
    (void)s.take_output();
    s.receive(kPipeliningEhlo);
    return s;
  };
  {
    Session s = prefix();
    EXPECT_EQ(s.take_output(), group);
    s.receive("250 ok\r\n250 ok\r\n");
    s.receive_eof();
    EXPECT_EQ(s.want(), Want::Done);
    ASSERT_EQ(s.findings().size(), 1u);
    EXPECT_EQ(s.findings()[0].kind, FindingKind::ConnectionClosed);
    EXPECT_EQ(s.findings()[0].command, "RCPT TO:<x@example.net>");
  }
  {
    Session s = prefix();
    (void)s.take_output();
    s.receive("250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n250 extra\r\n");
    EXPECT_EQ(s.want(), Want::Done);
    EXPECT_EQ(s.take_output(), "");  // the message never goes out
    ASSERT_EQ(s.findings().size(), 1u);
    EXPECT_EQ(s.findings()[0].kind, FindingKind::UnsolicitedData);
    EXPECT_EQ(s.findings()[0].command, "DATA");
    EXPECT_EQ(s.findings()[0].reply.code, 250);
  }
  {
    Session s = prefix();
    (void)s.take_output();
    s.receive("250 ok\r\n421 4.3.2 shutting down\r\n");
    EXPECT_EQ(s.want(), Want::Done);
    EXPECT_EQ(s.take_output(), "");
    ASSERT_EQ(s.findings().size(), 1u);
    EXPECT_EQ(s.findings()[0].kind, FindingKind::ServiceClosing);
    EXPECT_EQ(s.findings()[0].command, "RCPT TO:<a@example.org>");
  }
  {  // bytes before the group went out: it never did
    Session s = prefix();
    s.receive("250 early\r\n");
    EXPECT_EQ(s.want(), Want::Done);
    EXPECT_EQ(s.take_output(), "");
    ASSERT_EQ(s.findings().size(), 1u);
    EXPECT_EQ(s.findings()[0].kind, FindingKind::UnsolicitedData);
    EXPECT_EQ(s.findings()[0].command, "EHLO probe.example.org");
  }
}

// The EHLO over TLS decides (RFC 3207 §4.2): PIPELINING before TLS counts for nothing, and
// STARTTLS is never pipelined.
TEST(SessionPipelining, ThePostTlsEhloDecides) {
  Plan p = pipelined_plan();
  p.starttls = true;
  p.payload.reset();
  p.recipients = {{"a@example.org", false}};
  Session s(p);
  s.receive("220 mx\r\n");
  (void)s.take_output();
  s.receive("250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
  EXPECT_EQ(s.take_output(), "STARTTLS\r\n");
  s.receive("220 go\r\n");
  ASSERT_EQ(s.want(), Want::StartTls);
  s.tls_established();
  EXPECT_EQ(s.take_output(), "EHLO probe.example.org\r\n");
  s.receive("250 mx\r\n");
  EXPECT_EQ(s.take_output(), "MAIL FROM:<m@example.org>\r\n");
  EXPECT_FALSE(s.pipelined());
  Session t(p);
  t.receive("220 mx\r\n");
  (void)t.take_output();
  t.receive("250-mx\r\n250 STARTTLS\r\n");
  (void)t.take_output();
  t.receive("220 go\r\n");
  t.tls_established();
  (void)t.take_output();
  t.receive("250-mx\r\n250 PIPELINING\r\n");
  EXPECT_EQ(t.take_output(), "MAIL FROM:<m@example.org>\r\nRCPT TO:<a@example.org>\r\nQUIT\r\n");
  EXPECT_TRUE(t.pipelined());
}

// LMTP: one reply per accepted recipient after the message, then QUIT's, all in order.
TEST(SessionPipelining, LmtpRepliesAfterTheMessage) {
  Plan p = pipelined_plan();
  p.lmtp = true;
  p.recipients = {{"a@example.org", false}, {"b@example.org", false}};
  const auto out =
      run_every_split(p, {
                             {"", "220 lmtp\r\n"},
                             {"LHLO probe.example.org\r\n", "250-lmtp\r\n250 PIPELINING\r\n"},
                             {"MAIL FROM:<m@example.org>\r\nRCPT TO:<a@example.org>\r\nRCPT "
                              "TO:<b@example.org>\r\nDATA\r\n",
                              "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"},
                             {"Subject: t\r\n\r\nbody\r\n.\r\nQUIT\r\n",
                              "250 a delivered\r\n452 b over quota\r\n221 bye\r\n"},
                         });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_EQ(out.findings, (std::vector<FindingKind>{FindingKind::DataTempFailed}));
  EXPECT_EQ(out.final_want, Want::Done);
}

// -C commands after the transaction stay lock-step: the group ends with DATA, the message
// goes alone, then each command, then QUIT.
TEST(SessionPipelining, CommandsAfterTheTransactionStayLockStep) {
  Plan p = pipelined_plan();
  p.commands = {"NOOP"};
  const auto out =
      run_every_split(p, {
                             {"", "220 mx\r\n"},
                             {"EHLO probe.example.org\r\n", kPipeliningEhlo},
                             {"MAIL FROM:<m@example.org>\r\nRCPT TO:<a@example.org>\r\nRCPT "
                              "TO:<x@example.net>\r\nDATA\r\n",
                              "250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n"},
                             {"Subject: t\r\n\r\nbody\r\n.\r\n", "250 queued\r\n"},
                             {"NOOP\r\n", "250 ok\r\n"},
                             {"QUIT\r\n", "221 bye\r\n"},
                         });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_TRUE(out.findings.empty());
  EXPECT_EQ(out.final_want, Want::Done);
}

// Found by the Icinga 2 test (ITL smtp: -f, -C NOOP, no --rcpt): a group of MAIL alone must go
// on to the -C commands after MAIL's reply; it waited for nothing until the timeout.
TEST(SessionPipelining, MailAloneThenCommands) {
  Plan p = pipelined_plan();
  p.recipients.clear();
  p.payload.reset();
  p.commands = {"NOOP"};
  const auto out = run_every_split(p, {
                                          {"", "220 mx\r\n"},
                                          {"EHLO probe.example.org\r\n", kPipeliningEhlo},
                                          {"MAIL FROM:<m@example.org>\r\n", "250 ok\r\n"},
                                          {"NOOP\r\n", "250 ok\r\n"},
                                          {"QUIT\r\n", "221 bye\r\n"},
                                      });
  EXPECT_EQ(out.unexpected, "");
  EXPECT_TRUE(out.findings.empty());
  EXPECT_EQ(out.final_want, Want::Done);
  // MAIL refused: no commands, QUIT.
  const auto refused = run_every_split(p, {
                                              {"", "220 mx\r\n"},
                                              {"EHLO probe.example.org\r\n", kPipeliningEhlo},
                                              {"MAIL FROM:<m@example.org>\r\n", "550 no\r\n"},
                                              {"QUIT\r\n", "221 bye\r\n"},
                                          });
  EXPECT_EQ(refused.unexpected, "");
  ASSERT_EQ(refused.findings.size(), 1u);
  EXPECT_EQ(refused.findings[0], FindingKind::MailRejected);
  EXPECT_EQ(refused.final_want, Want::Done);
}

}  // namespace
}  // namespace smtpverify::smtp
