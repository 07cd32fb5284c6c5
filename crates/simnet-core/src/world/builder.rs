//! Declaring a world: hosts, links, applications, timeline actions and
//! faults ([`WorldBuilder`]), checked and built into a [`World`].

use super::*;

/// Why a world could not be built.
///
/// More checks may add errors: a `match` needs a `_` arm.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// Two hosts share a name.
    #[error("two hosts are named `{0}`")]
    DuplicateHostName(String),
    /// Two hosts share an address.
    #[error("hosts `{0}` and `{1}` both have address {2}")]
    DuplicateAddress(String, String, Ipv4Addr),
    /// A link joins a host to itself.
    #[error("a link cannot join `{0}` to itself")]
    SelfLink(String),
    /// Two links join the same pair of hosts.
    #[error("hosts `{0}` and `{1}` are joined by more than one link")]
    DuplicateLink(String, String),
    /// An id does not name anything declared.
    #[error("{0} does not exist")]
    UnknownId(String),
    /// A route or gateway names a next hop that no link joins to the node.
    #[error("`{0}` cannot route via `{1}`: no link joins them")]
    NotANeighbour(String, String),
    /// A NAT was declared on a host that is not a router.
    #[error("`{0}` is not a router, so it cannot do NAT")]
    NatOnHost(String),
}

/// Builds a fresh application instance (at start, and again after its host restarts).
pub type AppFactory = Box<dyn Fn() -> Box<dyn App>>;

struct HostDecl {
    name: String,
    addr: Ipv4Addr,
    config: HostConfig,
    router: bool,
}

struct AppDecl {
    host: HostId,
    kind: String,
    name: Option<String>,
    start: SimTime,
    factory: AppFactory,
}

/// Declares a network: hosts, links, applications, timeline, faults.
///
/// ```
/// use simnet_core::{WorldBuilder, LinkParams, SimDuration, SimTime, apps::TcpEcho};
/// let mut b = WorldBuilder::new(7);
/// let client = b.host("client", [10, 0, 0, 1].into());
/// let server = b.host("server", [10, 0, 0, 2].into());
/// b.link(client, server, LinkParams::with_latency(SimDuration::from_millis(10)));
/// b.app(server, "tcp-echo", || TcpEcho::new(80));
/// let mut world = b.build().unwrap();
/// world.run_until(SimTime::from_secs(1));
/// ```
pub struct WorldBuilder {
    seed: u64,
    hosts: Vec<HostDecl>,
    /// The first host of each name, for [`WorldBuilder::host_id`] (a
    /// scenario with 100,000 hosts looks each one up by name).
    by_name: BTreeMap<String, HostId>,
    links: Vec<(HostId, HostId, LinkParams, LinkParams)>,
    apps: Vec<AppDecl>,
    actions: Vec<(SimTime, Action)>,
    faults: Vec<TargetedFault>,
    limits: RunLimits,
    /// Static routes: (node, prefix, next hop).
    routes: Vec<(HostId, Ipv4Net, HostId)>,
    nats: Vec<(HostId, NatConfig)>,
}

impl WorldBuilder {
    /// An empty world with this seed.
    pub fn new(seed: u64) -> WorldBuilder {
        WorldBuilder {
            seed,
            hosts: Vec::new(),
            by_name: BTreeMap::new(),
            links: Vec::new(),
            apps: Vec::new(),
            actions: Vec::new(),
            faults: Vec::new(),
            limits: RunLimits::default(),
            routes: Vec::new(),
            nats: Vec::new(),
        }
    }

    /// Adds a router: a node that forwards IPv4 packets between its links
    /// by its routing table, decrementing their TTL and answering with ICMP
    /// time exceeded or destination unreachable. It has a TCP/IP stack of
    /// its own at `addr` (it answers pings; applications may run on it) and
    /// sends its ICMP messages from that address. Give it routes with
    /// [`route`](Self::route); it reaches its neighbours without one.
    pub fn router(&mut self, name: &str, addr: Ipv4Addr) -> HostId {
        let id = self.host_with(name, addr, HostConfig::default());
        self.hosts[id.0 as usize].router = true;
        id
    }

    /// Adds a static route on `node` (a router or a host): packets to
    /// `prefix` go to the neighbour `via`. The longest matching prefix
    /// wins; a neighbour's own address always goes straight to it.
    pub fn route(&mut self, node: HostId, prefix: Ipv4Net, via: HostId) -> &mut Self {
        self.routes.push((node, prefix, via));
        self
    }

    /// Gives `host` a default gateway: packets to an address that is not a
    /// neighbour's go to `via` (a route to `0.0.0.0/0`).
    pub fn gateway(&mut self, host: HostId, via: HostId) -> &mut Self {
        self.route(host, Ipv4Net::DEFAULT, via)
    }

    /// Makes `router` a source NAT towards its neighbour `nat.outside`.
    pub fn nat(&mut self, router: HostId, nat: NatConfig) -> &mut Self {
        self.nats.push((router, nat));
        self
    }

    /// Adds a host with default configuration.
    pub fn host(&mut self, name: &str, addr: Ipv4Addr) -> HostId {
        self.host_with(name, addr, HostConfig::default())
    }

    /// The socket address of port `port` on `host`, for giving an
    /// application its peer without retyping the address:
    /// `let server_addr = b.addr(server, 80);`.
    ///
    /// # Panics
    ///
    /// If `host` was not returned by this builder's [`host`](Self::host).
    pub fn addr(&self, host: HostId, port: u16) -> SocketAddrV4 {
        let decl = self
            .hosts
            .get(host.0 as usize)
            .expect("WorldBuilder::addr: the host id comes from another builder");
        SocketAddrV4::new(decl.addr, port)
    }

    /// Adds a host with its own configuration.
    pub fn host_with(&mut self, name: &str, addr: Ipv4Addr, config: HostConfig) -> HostId {
        let id = HostId(self.hosts.len() as u32);
        self.by_name.entry(name.to_string()).or_insert(id);
        self.hosts.push(HostDecl {
            name: name.to_string(),
            addr,
            config,
            router: false,
        });
        id
    }

    /// Joins two hosts with a link that behaves the same both ways.
    pub fn link(&mut self, a: HostId, b: HostId, params: LinkParams) -> LinkId {
        self.link_asymmetric(a, b, params.clone(), params)
    }

    /// Joins two hosts with a link whose directions differ.
    pub fn link_asymmetric(
        &mut self,
        a: HostId,
        b: HostId,
        a_to_b: LinkParams,
        b_to_a: LinkParams,
    ) -> LinkId {
        self.links.push((a, b, a_to_b, b_to_a));
        LinkId(self.links.len() as u32 - 1)
    }

    /// Runs an application on a host from time zero. `factory` builds a fresh
    /// instance (again after a crash and restart).
    pub fn app<A: App, F: Fn() -> A + 'static>(
        &mut self,
        host: HostId,
        kind: &str,
        factory: F,
    ) -> AppId {
        self.app_at(host, kind, SimTime::ZERO, factory)
    }

    /// Runs an application on a host from time `start`.
    pub fn app_at<A: App, F: Fn() -> A + 'static>(
        &mut self,
        host: HostId,
        kind: &str,
        start: SimTime,
        factory: F,
    ) -> AppId {
        self.app_boxed(host, kind, start, Box::new(move || Box::new(factory())))
    }

    /// Runs an application built by a boxed factory (what the scenario
    /// loader uses, where the concrete type is not known statically).
    pub fn app_boxed(
        &mut self,
        host: HostId,
        kind: &str,
        start: SimTime,
        factory: AppFactory,
    ) -> AppId {
        self.apps.push(AppDecl {
            host,
            kind: kind.to_string(),
            name: None,
            start,
            factory,
        });
        AppId(self.apps.len() as u32 - 1)
    }

    /// Gives an application the name traces and messages use for it (a
    /// scenario's `name`); without one, it is called by its kind.
    pub fn name_app(&mut self, app: AppId, name: &str) -> &mut Self {
        if let Some(decl) = self.apps.get_mut(app.0 as usize) {
            decl.name = Some(name.to_string());
        }
        self
    }

    /// Schedules a timeline action.
    pub fn at(&mut self, time: SimTime, action: Action) -> &mut Self {
        self.actions.push((time, action));
        self
    }

    /// Adds a targeted fault.
    pub fn fault(&mut self, fault: TargetedFault) -> &mut Self {
        self.faults.push(fault);
        self
    }

    /// Sets the run's bounds.
    pub fn limits(&mut self, limits: RunLimits) -> &mut Self {
        self.limits = limits;
        self
    }

    /// The id a host will have, by name.
    pub fn host_id(&self, name: &str) -> Option<HostId> {
        self.by_name.get(name).copied()
    }

    /// Checks the declaration and builds the world.
    pub fn build(self) -> Result<World, BuildError> {
        let seed = Seed(self.seed);
        // In declaration order, the first clash is the one reported, as a
        // pairwise check would find it, without comparing every pair.
        let mut names = BTreeMap::new();
        let mut addrs: BTreeMap<Ipv4Addr, &str> = BTreeMap::new();
        for h in &self.hosts {
            if names.insert(h.name.as_str(), ()).is_some() {
                return Err(BuildError::DuplicateHostName(h.name.clone()));
            }
            if let Some(other) = addrs.insert(h.addr, h.name.as_str()) {
                return Err(BuildError::DuplicateAddress(
                    other.to_string(),
                    h.name.clone(),
                    h.addr,
                ));
            }
        }
        let name = |id: HostId| -> Result<String, BuildError> {
            self.hosts
                .get(id.0 as usize)
                .map(|h| h.name.clone())
                .ok_or_else(|| BuildError::UnknownId(format!("host #{}", id.0)))
        };
        let mut routes: Vec<RoutingTable> = vec![RoutingTable::default(); self.hosts.len()];
        let mut links = Vec::new();
        let mut link_infos = Vec::new();
        for (i, (a, b, ab, ba)) in self.links.into_iter().enumerate() {
            let (an, bn) = (name(a)?, name(b)?);
            if a == b {
                return Err(BuildError::SelfLink(an));
            }
            let id = LinkId(i as u32);
            let (addr_a, addr_b) = (self.hosts[a.0 as usize].addr, self.hosts[b.0 as usize].addr);
            let hop = |dir, next| Hop {
                link: id,
                dir,
                next,
            };
            if !routes[a.0 as usize].add_neighbour(addr_b, hop(Direction::AtoB, b)) {
                return Err(BuildError::DuplicateLink(an, bn));
            }
            routes[b.0 as usize].add_neighbour(addr_a, hop(Direction::BtoA, a));
            link_infos.push(LinkInfo {
                a,
                b,
                a_to_b: ab.clone(),
                b_to_a: ba.clone(),
            });
            links.push(LinkSlot {
                a,
                b,
                aqm: [Aqm::for_params(&ab), Aqm::for_params(&ba)],
                dirs: [
                    LinkDirection::new(ab, seed.stream(&format!("link:{an}->{bn}"))),
                    LinkDirection::new(ba, seed.stream(&format!("link:{bn}->{an}"))),
                ],
                up: true,
                epoch: 0,
                cut_reason: DropReason::LinkDown,
            });
        }
        for &(node, prefix, via) in &self.routes {
            let (nn, vn) = (name(node)?, name(via)?);
            let hop = routes[node.0 as usize]
                .hop_to(via)
                .ok_or(BuildError::NotANeighbour(nn, vn))?;
            routes[node.0 as usize].add_route(prefix, hop);
        }
        let mut routers: Vec<Option<Router>> = self
            .hosts
            .iter()
            .map(|h| h.router.then(Router::default))
            .collect();
        for (router, config) in self.nats {
            let rn = name(router)?;
            let on = name(config.outside)?;
            let Some(Some(r)) = routers.get_mut(router.0 as usize) else {
                return Err(BuildError::NatOnHost(rn));
            };
            if routes[router.0 as usize].hop_to(config.outside).is_none() {
                return Err(BuildError::NotANeighbour(rn, on));
            }
            r.nat = Some(Nat::new(config, self.hosts[router.0 as usize].addr));
        }
        let hosts: Vec<Host> = self
            .hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                Host::new(
                    HostId(i as u32),
                    h.name.clone(),
                    h.addr,
                    h.config.clone(),
                    seed.stream(&format!("host:{}", h.name)),
                )
            })
            .collect();
        let mut queue = EventQueue::new();
        let mut apps = Vec::new();
        let mut app_infos = Vec::new();
        for (i, decl) in self.apps.into_iter().enumerate() {
            let hname = name(decl.host)?;
            let id = AppId(i as u32);
            app_infos.push(AppInfo {
                host: decl.host,
                name: decl.name.clone().unwrap_or_else(|| decl.kind.clone()),
                kind: decl.kind.clone(),
            });
            queue.push(
                decl.start,
                Event::Start {
                    app: id,
                    incarnation: 0,
                },
            );
            apps.push(AppSlot {
                host: decl.host,
                factory: decl.factory,
                instance: None,
                incarnation: 0,
                rng: AppRng::new(seed.stream(&format!("app:{hname}:{i}:{}", decl.kind))),
            });
        }
        let mut actions = Vec::new();
        for (i, (time, action)) in self.actions.into_iter().enumerate() {
            validate_action(&action, hosts.len(), links.len(), apps.len())?;
            queue.push(time, Event::Action(i));
            actions.push(action);
        }
        let topology = Topology {
            seed: self.seed,
            hosts: self
                .hosts
                .iter()
                .map(|h| HostInfo {
                    name: h.name.clone(),
                    addr: h.addr,
                    router: h.router,
                })
                .collect(),
            links: link_infos,
            apps: app_infos,
        };
        let faults = self.faults.into_iter().map(|f| (f, 0)).collect();
        let mut world = World {
            now: SimTime::ZERO,
            queue,
            hosts,
            links,
            routes,
            routers,
            apps,
            actions,
            faults,
            cut: BTreeSet::new(),
            trace: Recorder {
                trace: Trace {
                    topology,
                    records: Default::default(),
                },
                sink: None,
                last: None,
                recorded: 0,
            },
            capture: Capture::Full,
            limits: self.limits,
            events: 0,
            next_frame: 0,
            next_timer: 0,
            cancelled: BTreeSet::new(),
            pending: VecDeque::new(),
            ended: None,
            runaway: None,
            busiest_callback: 0,
        };
        // Listening sockets armed while hosts booted have nothing to report yet.
        for h in 0..world.hosts.len() {
            world.drain(HostId(h as u32));
        }
        Ok(world)
    }
}

fn validate_action(
    action: &Action,
    hosts: usize,
    links: usize,
    apps: usize,
) -> Result<(), BuildError> {
    let host_ok = |h: &HostId| (h.0 as usize) < hosts;
    let ok = match action {
        Action::PatchLink { link, .. } | Action::LinkDown(link) | Action::LinkUp(link) => {
            (link.0 as usize) < links
        }
        Action::Partition(a, b) => a.iter().chain(b).all(host_ok),
        Action::Heal => true,
        Action::Crash(h) | Action::Restart(h) => host_ok(h),
        Action::Command(app, _) => (app.0 as usize) < apps,
    };
    if ok {
        Ok(())
    } else {
        Err(BuildError::UnknownId(format!(
            "an action's target ({action:?})"
        )))
    }
}
